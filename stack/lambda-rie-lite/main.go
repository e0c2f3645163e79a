// Command lambda-rie-lite stands in for the AWS Lambda Runtime Interface Emulator (aws-lambda-rie) on machines
// where that binary cannot be obtained: the Go module proxy reachable here answers 403 for
// github.com/aws/aws-lambda-runtime-interface-emulator, and release downloads are not reachable.
//
// It speaks the same two protocols with the same command line: the Invoke API
// (POST /2015-03-31/functions/function/invocations, answered 200 with the function's payload or error document, no
// X-Amz-Function-Error header, one invoke at a time) on --runtime-interface-emulator-address, and the Lambda Runtime
// API (/2018-06-01/runtime/...) on --runtime-api-address for the bootstrap it runs. The stack script prefers the
// real aws-lambda-rie whenever one is on PATH or named by AWS_LAMBDA_RIE_BIN.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan []byte
}

type emulator struct {
	invokeMu sync.Mutex       // one invoke at a time, as the real emulator does
	next     chan *invocation // handed to the runtime's /next long poll
	mu       sync.Mutex
	inflight map[string]*invocation
	seq      int
	timeout  time.Duration
	restart  chan struct{} // asks the supervisor to replace a runtime that timed out
}

func main() {
	rieAddr := flag.String("runtime-interface-emulator-address", "0.0.0.0:8080", "address of the Invoke API")
	apiAddr := flag.String("runtime-api-address", "127.0.0.1:9001", "address of the Runtime API given to the bootstrap")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("usage: lambda-rie-lite [flags] <bootstrap command> [args...]")
	}
	timeout := 30 * time.Second
	if v := os.Getenv("AWS_LAMBDA_FUNCTION_TIMEOUT"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s <= 0 {
			log.Fatalf("AWS_LAMBDA_FUNCTION_TIMEOUT must be a positive number of seconds, got %q", v)
		}
		timeout = time.Duration(s) * time.Second
	}
	e := &emulator{next: make(chan *invocation), inflight: map[string]*invocation{}, timeout: timeout,
		restart: make(chan struct{}, 1)}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	api := &http.Server{Addr: *apiAddr, Handler: http.HandlerFunc(e.runtimeAPI)}
	rie := &http.Server{Addr: *rieAddr, Handler: http.HandlerFunc(e.invokeAPI)}
	for _, s := range []*http.Server{api, rie} {
		go func(s *http.Server) {
			if err := s.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Fatalf("listen %s: %v", s.Addr, err)
			}
		}(s)
	}
	log.Printf("invoke API on %s, runtime API on %s, bootstrap %q", *rieAddr, *apiAddr, flag.Args())
	e.supervise(ctx, *apiAddr, flag.Args())
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = rie.Shutdown(shutdown)
	_ = api.Shutdown(shutdown)
}

// supervise keeps one bootstrap process running, replacing it when it exits or an invoke times out.
func (e *emulator) supervise(ctx context.Context, apiAddr string, argv []string) {
	for ctx.Err() == nil {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+apiAddr, "AWS_LAMBDA_FUNCTION_NAME=function",
			"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
			fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", int(e.timeout.Seconds())))
		if err := cmd.Start(); err != nil {
			log.Printf("cannot start bootstrap: %v", err)
		} else {
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				log.Printf("bootstrap exited: %v", err)
			case <-e.restart:
				log.Printf("replacing the runtime after a timed-out invoke")
				_ = cmd.Process.Kill()
				<-exited
			case <-ctx.Done():
				_ = cmd.Process.Signal(syscall.SIGTERM)
				<-exited
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond): // no hot loop when the bootstrap cannot start
		}
	}
}

func (e *emulator) invokeAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/") ||
		!strings.HasSuffix(r.URL.Path, "/invocations") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20)) // Lambda's synchronous payload limit
	if err != nil {
		http.Error(w, "cannot read payload", http.StatusBadRequest)
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	e.invokeMu.Lock()
	defer e.invokeMu.Unlock()

	e.mu.Lock()
	e.seq++
	inv := &invocation{id: fmt.Sprintf("%08d-0000-4000-8000-%012d", os.Getpid(), e.seq), payload: payload,
		deadline: time.Now().Add(e.timeout), done: make(chan []byte, 1)}
	e.inflight[inv.id] = inv
	e.mu.Unlock()
	defer func() { e.mu.Lock(); delete(e.inflight, inv.id); e.mu.Unlock() }()

	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case e.next <- inv:
	case <-timer.C:
		timedOut(w, e)
		return
	case <-r.Context().Done():
		return
	}
	select {
	case out := <-inv.done:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	case <-timer.C:
		select {
		case e.restart <- struct{}{}:
		default:
		}
		timedOut(w, e)
	}
}

func timedOut(w http.ResponseWriter, e *emulator) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after %.2f seconds"}`,
		e.timeout.Seconds())
}

func (e *emulator) runtimeAPI(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2018-06-01/runtime/"
	path := strings.TrimPrefix(r.URL.Path, prefix)
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		select {
		case inv := <-e.next:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:012345678912:function:function")
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		parts := strings.Split(strings.TrimPrefix(path, "invocation/"), "/")
		if len(parts) != 2 || (parts[1] != "response" && parts[1] != "error") {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		e.mu.Lock()
		inv := e.inflight[parts[0]]
		e.mu.Unlock()
		if inv == nil {
			http.Error(w, `{"errorType":"InvalidRequestID","errorMessage":"unknown request id"}`, http.StatusBadRequest)
			return
		}
		inv.done <- body
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && path == "init/error":
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		log.Printf("runtime init error: %s", body)
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}
