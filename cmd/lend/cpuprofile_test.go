package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// `lend serve --cpuprofile F` leaves a gzip-compressed pprof profile in F
// when it shuts down (what docs/perf/api-resources.md's profiles come from).
func TestServeCPUProfile(t *testing.T) {
	data := t.TempDir()
	prof := filepath.Join(data, "cpu.prof")
	base, proc := startServerData(t, filepath.Join(data, "lend.db"), data, "--cpuprofile", prof)
	for range 50 {
		res, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if err := proc.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(prof); err == nil && len(b) > 2 && bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			return
		}
	}
	b, _ := os.ReadFile(prof)
	t.Fatalf("no gzip profile in %s after shutdown (%d bytes)", prof, len(b))
}

// A --cpuprofile that cannot be created fails the start, naming the flag.
func TestServeCPUProfileBadPath(t *testing.T) {
	data := t.TempDir()
	c := lendCmd(t, "serve", "--addr", freeAddr(t), "--data", data, "--cpuprofile", filepath.Join(data, "missing", "cpu.prof"))
	out, err := c.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("cpuprofile")) {
		t.Fatalf("err %v, output %s", err, out)
	}
}
