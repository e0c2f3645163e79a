// Command ferretdb runs FerretDB v1 for postboard's local stack: the PostgreSQL backend with --postgresql-url (what
// the stack uses), the SQLite backend otherwise.
//
// Why a wrapper: `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds a binary that panics
// at start because build/version/version.txt is generated and absent from the module zip (FerretDB #2982).
// The embeddable package skips that check, so this tiny main serves the same wire protocol.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27018", "TCP address to serve the MongoDB wire protocol on")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL (e.g. postgres://user@/ferretdb?host=/socket/dir); selects the PostgreSQL backend")
	dir := flag.String("sqlite-dir", "data", "directory holding one SQLite file per database (SQLite backend only)")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		log.Fatalf("bad --log-level %q: %v", *level, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	cfg := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}, Logger: logger}
	if *pgURL != "" {
		cfg.Handler, cfg.PostgreSQLURL = "postgresql", *pgURL
	} else {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			log.Fatalf("cannot create --sqlite-dir %q: %v", *dir, err)
		}
		cfg.Handler, cfg.SQLiteURL = "sqlite", "file:"+*dir+"/"
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Info("ferretdb listening", "addr", *listen, "backend", cfg.Handler)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
