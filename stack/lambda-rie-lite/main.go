// Command lambda-rie-lite is a stand-in for the AWS Lambda Runtime Interface Emulator (aws-lambda-rie). It is NOT
// the real emulator: it exists because that binary cannot be obtained on these machines (the Go module proxy
// answers 403 for github.com/aws/aws-lambda-runtime-interface-emulator and its forks, release downloads are not
// reachable, and no Debian, npm or PyPI package ships it). stack/services/lambda.sh prefers a real aws-lambda-rie
// whenever one is on PATH or named by AWS_LAMBDA_RIE_BIN.
//
// It takes the same command line and speaks the same two protocols, written from the real emulator's observable
// behaviour (its public source was read, not copied):
//
//   - Invoke API on --runtime-interface-emulator-address: /2015-03-31/functions/function/invocations (and
//     /functions/$AWS_LAMBDA_FUNCTION_NAME/invocations when that is set); any other path is 404. Answers 200 with the
//     function's payload, or with its error document when the runtime posted /error: never an X-Amz-Function-Error
//     header. A runtime that exits mid-invoke gives 502 with a Runtime.ExitError document; an invoke that outlives
//     AWS_LAMBDA_FUNCTION_TIMEOUT (default 300 s) gives 200 with the plain text "Task timed out after N.00 seconds"
//     and the runtime is replaced. One invoke at a time: later ones wait their turn (current releases hold a mutex
//     around each invoke; older ones answered a concurrent invoke 400 AlreadyReserved).
//   - Runtime API on --runtime-api-address for the bootstrap: /2018-06-01/runtime/invocation/next (long poll),
//     /invocation/{id}/response and /error (202 {"status":"OK"}; an unknown or already answered id 400
//     InvalidRequestID; answering before /next 403 InvalidStateTransition), /init/error.
//
// Known differences, none of which postboard relies on: the bootstrap starts at launch rather than on the first
// invoke (the real emulator initialises lazily, so its first invoke also pays for init); an invoke whose client has
// gone away before its turn is dropped rather than run; no extensions, telemetry or X-Ray.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
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

const maxPayload = 6 << 20 // Lambda's synchronous request and response limit

type result struct {
	status      int
	contentType string
	body        []byte
}

type invocation struct {
	id            string
	payload       []byte
	deadline      time.Time
	traceID       string
	clientContext string
	handed        bool        // the runtime has received it from /next
	answered      bool        // a result has been delivered; later answers are refused
	done          chan result // buffered 1; written once, under emulator.mu
}

type emulator struct {
	invokeMu  sync.Mutex       // one invoke at a time
	next      chan *invocation // handed to the runtime's /next long poll
	mu        sync.Mutex       // guards current and initError
	current   *invocation
	initError *result // an /init/error document waiting for the invoke it belongs to
	timeout   time.Duration
	funcName  string
	restart   chan chan struct{} // asks the supervisor to replace the runtime; closed ack = done
	stopped   chan struct{}      // closed when the supervisor has returned
}

func main() {
	rieAddr := flag.String("runtime-interface-emulator-address", "0.0.0.0:8080", "address of the Invoke API")
	apiAddr := flag.String("runtime-api-address", "127.0.0.1:9001", "address of the Runtime API given to the bootstrap")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("usage: lambda-rie-lite [flags] <bootstrap command> [args...]")
	}
	timeout := 300 * time.Second
	if v := os.Getenv("AWS_LAMBDA_FUNCTION_TIMEOUT"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s <= 0 {
			log.Fatalf("AWS_LAMBDA_FUNCTION_TIMEOUT must be a positive number of seconds, got %q", v)
		}
		timeout = time.Duration(s) * time.Second
	}
	funcName := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	if funcName == "" {
		funcName = "function"
	}
	e := &emulator{next: make(chan *invocation), timeout: timeout, funcName: funcName, restart: make(chan chan struct{}, 1), stopped: make(chan struct{})}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Exact paths only, as the real emulator registers them: an unknown function name is a 404, not an invoke.
	invokeMux := http.NewServeMux()
	for _, name := range uniq("function", funcName) {
		invokeMux.HandleFunc("/2015-03-31/functions/"+name+"/invocations", e.invokeAPI)
	}
	api := &http.Server{Addr: *apiAddr, Handler: http.HandlerFunc(e.runtimeAPI)}
	rie := &http.Server{Addr: *rieAddr, Handler: invokeMux}
	for _, s := range []*http.Server{api, rie} {
		go func(s *http.Server) {
			if err := s.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Fatalf("listen %s: %v", s.Addr, err)
			}
		}(s)
	}
	log.Printf("lambda-rie-lite (a stand-in, not aws-lambda-rie): invoke API on %s, runtime API on %s, bootstrap %q",
		*rieAddr, *apiAddr, flag.Args())
	e.supervise(ctx, *apiAddr, flag.Args())
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = rie.Shutdown(shutdown)
	_ = api.Shutdown(shutdown)
}

func uniq(names ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// supervise keeps one bootstrap process running, replacing it when it exits or an invoke times out. A runtime that
// exits while an invoke is in flight fails that invoke at once instead of leaving it to time out.
func (e *emulator) supervise(ctx context.Context, apiAddr string, argv []string) {
	defer close(e.stopped)
	for ctx.Err() == nil {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+apiAddr, "AWS_LAMBDA_FUNCTION_NAME="+e.funcName,
			"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=3008",
			"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/Functions", "AWS_LAMBDA_LOG_STREAM_NAME=$LATEST",
			fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", int(e.timeout.Seconds())))
		if err := cmd.Start(); err != nil {
			log.Printf("cannot start bootstrap: %v", err)
			e.runtimeExited(err)
		} else {
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				log.Printf("bootstrap exited: %v", err)
				e.runtimeExited(err)
			case ack := <-e.restart:
				log.Printf("replacing the runtime after a timed-out invoke")
				_ = cmd.Process.Kill()
				<-exited
				close(ack)
			case <-ctx.Done():
				_ = cmd.Process.Signal(syscall.SIGTERM)
				<-exited
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case ack := <-e.restart: // nothing is running to replace
			close(ack)
		case <-time.After(500 * time.Millisecond): // no hot loop when the bootstrap cannot start
		}
	}
}

func (e *emulator) runtimeExited(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	inv := e.current
	if inv == nil || inv.answered {
		return
	}
	if e.initError != nil {
		e.answerLocked(inv, *e.initError)
		e.initError = nil
		return
	}
	reason := "exit status 0"
	if err != nil {
		reason = strings.TrimPrefix(err.Error(), "exec: ")
	}
	body, _ := json.Marshal(map[string]string{"errorType": "Runtime.ExitError",
		"errorMessage": fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", inv.id, reason)})
	e.answerLocked(inv, result{status: http.StatusBadGateway, contentType: "application/json", body: body})
}

// answerLocked delivers the invoke's one result; the caller holds e.mu.
func (e *emulator) answerLocked(inv *invocation, r result) bool {
	if inv.answered {
		return false
	}
	inv.answered = true
	inv.done <- r
	return true
}

func (e *emulator) invokeAPI(w http.ResponseWriter, r *http.Request) {
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if len(payload) > maxPayload {
		writeJSON(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", maxPayload))
		return
	}
	clientContext, err := base64.StdEncoding.DecodeString(r.Header.Get("X-Amz-Client-Context"))
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}

	e.invokeMu.Lock()
	defer e.invokeMu.Unlock()
	if r.Context().Err() != nil {
		return // the caller gave up while queued; running it would only delay the next one
	}

	start := time.Now()
	inv := &invocation{id: newUUID(), payload: payload, deadline: start.Add(e.timeout),
		traceID: r.Header.Get("X-Amzn-Trace-Id"), clientContext: string(clientContext), done: make(chan result, 1)}
	e.mu.Lock()
	e.current = inv
	initError := e.initError
	e.initError = nil
	e.mu.Unlock()
	defer func() { e.mu.Lock(); e.current = nil; e.mu.Unlock() }()
	fmt.Printf("START RequestId: %s Version: $LATEST\n", inv.id)
	if initError != nil {
		e.finish(w, inv, start, *initError)
		return
	}

	timer := time.NewTimer(e.timeout)
	defer timer.Stop()
	select {
	case e.next <- inv:
	case out := <-inv.done: // failed before the runtime took it (init error, runtime exit)
		e.finish(w, inv, start, out)
		return
	case <-timer.C:
		e.timedOut(w, inv, start)
		return
	case <-r.Context().Done():
		return
	}
	select {
	case out := <-inv.done:
		e.finish(w, inv, start, out)
	case <-timer.C:
		e.timedOut(w, inv, start)
	}
}

func (e *emulator) finish(w http.ResponseWriter, inv *invocation, start time.Time, out result) {
	report(inv.id, start, e.timeout)
	if out.contentType != "" {
		w.Header().Set("Content-Type", out.contentType)
	}
	if out.status != 0 {
		w.WriteHeader(out.status)
	}
	_, _ = w.Write(out.body)
}

func (e *emulator) timedOut(w http.ResponseWriter, inv *invocation, start time.Time) {
	e.mu.Lock()
	inv.answered = true // a late response from the runtime is refused
	e.mu.Unlock()
	// Replace the runtime before the next invoke may start, as the real emulator resets within the invoke: a stuck
	// runtime's late exit must not be blamed on the invoke after it.
	ack := make(chan struct{})
	select {
	case e.restart <- ack:
		select {
		case <-ack:
		case <-e.stopped:
		}
	case <-e.stopped:
	}
	report(inv.id, start, e.timeout)
	_, _ = fmt.Fprintf(w, "Task timed out after %d.00 seconds", int(e.timeout.Seconds()))
}

func report(id string, start time.Time, timeout time.Duration) {
	ms := math.Min(float64(time.Since(start)), float64(timeout)) / float64(time.Millisecond)
	fmt.Printf("END RequestId: %s\nREPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.f ms\n",
		id, id, ms, math.Ceil(ms))
}

func (e *emulator) runtimeAPI(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/2018-06-01/runtime/")
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		e.mu.Lock()
		busy := e.current != nil && e.current.handed && !e.current.answered
		e.mu.Unlock()
		if busy {
			writeJSON(w, http.StatusForbidden, "InvalidStateTransition",
				"State transition from Invoke to Ready failed for runtime: the current invoke has no response yet")
			return
		}
		select {
		case inv := <-e.next:
			e.mu.Lock()
			inv.handed = true
			e.mu.Unlock()
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:012345678912:function:"+e.funcName)
			if inv.traceID != "" {
				h.Set("Lambda-Runtime-Trace-Id", inv.traceID)
			}
			if inv.clientContext != "" {
				h.Set("Lambda-Runtime-Client-Context", inv.clientContext)
			}
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		parts := strings.Split(strings.TrimPrefix(path, "invocation/"), "/")
		if len(parts) != 2 || (parts[1] != "response" && parts[1] != "error") {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, "TruncatedHTTPRequest", "HTTP request detected as truncated")
			return
		}
		out := result{status: http.StatusOK, contentType: r.Header.Get("Content-Type"), body: body}
		if len(body) > maxPayload {
			msg, _ := json.Marshal(map[string]string{"errorType": "Function.ResponseSizeTooLarge",
				"errorMessage": fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxPayload)})
			out = result{status: http.StatusOK, contentType: "application/json", body: msg}
		}
		if parts[1] == "error" {
			log.Printf("function error (%s) for %s", r.Header.Get("Lambda-Runtime-Function-Error-Type"), parts[0])
		}
		e.mu.Lock()
		inv := e.current
		switch {
		case inv == nil || !inv.handed:
			e.mu.Unlock()
			writeJSON(w, http.StatusForbidden, "InvalidStateTransition",
				"State transition from Ready to InvocationResponse failed for runtime: no invoke in progress")
		case inv.id != parts[0] || !e.answerLocked(inv, out):
			e.mu.Unlock()
			writeJSON(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		default:
			e.mu.Unlock()
			if len(body) > maxPayload {
				writeJSON(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
					fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", maxPayload))
				return
			}
			writeStatusOK(w)
		}
	case r.Method == http.MethodPost && path == "init/error":
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxPayload))
		log.Printf("runtime init error (%s): %s", r.Header.Get("Lambda-Runtime-Function-Error-Type"), body)
		out := result{status: http.StatusBadGateway, contentType: "application/json", body: body}
		e.mu.Lock()
		if e.current != nil && !e.current.answered {
			e.answerLocked(e.current, out)
		} else {
			e.initError = &out // the real emulator initialises on an invoke; here init ran early, so it waits for one
		}
		e.mu.Unlock()
		writeStatusOK(w)
	default:
		http.NotFound(w, r)
	}
}

func writeStatusOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`+"\n")
}

func writeJSON(w http.ResponseWriter, status int, errorType, message string) {
	body, _ := json.Marshal(map[string]string{"errorMessage": message, "errorType": errorType})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
