package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lend serve buffers its log lines (internal/logbuf): every access line of
// a request answered before shutdown is in the log when the process has
// exited, before the shutdown line, with nothing torn. --log-flush 1h leaves
// the flush at exit as the only one (the default 100 ms would hide a
// missing one); --log-flush 0 writes every line at once.
func TestServeLogsEveryRequestBeforeExit(t *testing.T) {
	for _, flush := range []string{"1h", "0"} {
		t.Run("log-flush="+flush, func(t *testing.T) { serveAndCheckLog(t, flush) })
	}
}

func serveAndCheckLog(t *testing.T, flush string) {
	data := t.TempDir()
	addr := freeAddr(t)
	c := lendCmd(t, "serve", "--addr", addr, "--db", filepath.Join(data, "lend.db"), "--data", data, "--log-flush", flush)
	var logs bytes.Buffer
	c.Stdout, c.Stderr = &logs, &logs
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	ready := false
	for deadline := time.Now().Add(60 * time.Second); !ready && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			ready = res.StatusCode == http.StatusOK
		}
	}
	if !ready {
		_ = c.Process.Kill()
		_ = c.Wait()
		t.Fatalf("not ready:\n%s", logs.String())
	}
	ids := []string{"log-test-1", "log-test-2", "log-test-3"}
	for _, id := range ids {
		req, _ := http.NewRequest("GET", base+"/healthz", nil)
		req.Header.Set("X-Request-Id", id)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if err := c.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("serve exited with %v:\n%s", err, logs.String())
	}
	out := logs.String()
	shutdown := strings.Index(out, "shutting down")
	if shutdown < 0 {
		t.Fatalf("no shutdown line:\n%s", out)
	}
	for _, id := range ids {
		i := strings.Index(out, "request_id="+id)
		if i < 0 {
			t.Fatalf("no access line for %s after exit:\n%s", id, out)
		}
		line := out[strings.LastIndex(out[:i], "\n")+1:]
		line = line[:strings.Index(line, "\n")]
		if !strings.Contains(line, "msg=request") || !strings.Contains(line, "status=200") || !strings.Contains(line, "route=/healthz") {
			t.Fatalf("access line of %s is not whole: %q", id, line)
		}
		if i > shutdown {
			t.Fatalf("access line of %s comes after the shutdown line:\n%s", id, out)
		}
	}
}

// A negative --log-flush is refused at start, naming the flag.
func TestServeLogFlushNegative(t *testing.T) {
	data := t.TempDir()
	out, err := lendCmd(t, "serve", "--addr", freeAddr(t), "--data", data, "--log-flush", "-1s").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("log-flush")) {
		t.Fatalf("err %v, output %s", err, out)
	}
}
