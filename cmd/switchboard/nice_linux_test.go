package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func init() {
	binaryTests = append(binaryTests, binaryTest{"nice below 0 without privilege exits 1", testNiceRefused})
}

// testNiceRefused starts the binary with --nice -5 as a user without
// CAP_SYS_NICE: it must exit 1 at once, naming what is missing, and never
// listen. Run as root (as CI does), it drops to nobody for the child.
func testNiceRefused(t *testing.T, bin string) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(13 /* RLIMIT_NICE */, &lim); err == nil && lim.Cur >= 25 {
		t.Skipf("RLIMIT_NICE %d lets any user lower niceness to -5", lim.Cur)
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// The child runs as nobody: it needs a binary it may execute,
		// outside the test's private temporary directories.
		dir, err := os.MkdirTemp("", "switchboard-nice")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		copied := filepath.Join(dir, "switchboard")
		if err := copyFile(bin, copied); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		bin = copied
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	var stderr bytes.Buffer
	cmd := command(ctx, t, bin, nil, "--port", "0", "--admin", "127.0.0.1:0", "--nice", "-5")
	cmd.Env = append(cmd.Env, "HOME=/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cred != nil && errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot start a child as nobody here: %v", err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1; stderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{"process.nice cannot be applied", "niceness -5 needs root or CAP_SYS_NICE"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "listening") {
		t.Errorf("the binary listened before refusing:\n%s", stderr.String())
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	return dst.Close()
}
