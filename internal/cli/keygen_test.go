package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keygen → sign → verify: the pair keygen writes signs and verifies, with
// the password from the environment, and the private key is encrypted
// and readable by its owner only.
func TestKeygen_SignVerifyRoundTrip(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "release")
	pw := map[string]string{passwordEnv: "correct horse"}
	r := runCLI(t, pw, "keygen", "--output-key-prefix", prefix)
	if r.code != ExitOK || !strings.Contains(r.stderr, prefix+".key") {
		t.Fatalf("keygen: exit %d %s", r.code, r.stderr)
	}
	key, pub := prefix+".key", prefix+".pub"
	data, err := os.ReadFile(key)
	if err != nil || !strings.HasPrefix(string(data), "-----BEGIN ENCRYPTED PRIVATE KEY-----") {
		t.Fatalf("private key: %v\n%s", err, data)
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", st.Mode().Perm())
	}
	model := modelDir(t)
	if r := runCLI(t, nil, "sign", "--private-key", key, model); r.code != ExitError || !strings.Contains(r.stderr, passwordEnv) {
		t.Errorf("sign without the password: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, map[string]string{passwordEnv: "wrong horse"}, "sign", "--private-key", key, model); r.code != ExitError {
		t.Errorf("sign with a wrong password: exit %d", r.code)
	}
	if r := runCLI(t, pw, "sign", "--private-key", key, model); r.code != ExitOK {
		t.Fatalf("sign: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "verify", "--public-key", pub, model); r.code != ExitOK {
		t.Fatalf("verify: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	// Another pair's public key does not verify it.
	other := filepath.Join(t.TempDir(), "other")
	runCLI(t, pw, "keygen", "--output-key-prefix", other)
	if r := runCLI(t, nil, "verify", "--public-key", other+".pub", model); r.code != ExitFindings || !strings.Contains(r.stdout, "wrong-key") {
		t.Errorf("verify with another key: exit %d %s", r.code, r.stdout)
	}
}

// keygen never replaces a key without --force, and --force counts only on
// the command line.
func TestKeygen_RefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	pw := map[string]string{passwordEnv: "correct horse"}
	if r := runCLI(t, pw, "keygen"); r.code != ExitOK {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	key, _ := os.ReadFile("aigis.key")
	pub, _ := os.ReadFile("aigis.pub")
	if len(key) == 0 || len(pub) == 0 {
		t.Fatal("default prefix: aigis.key and aigis.pub not written")
	}
	withForceEnv := map[string]string{passwordEnv: "correct horse", "AIGIS_KEYGEN_FORCE": "true"}
	for _, env := range []map[string]string{pw, withForceEnv} {
		r := runCLI(t, env, "keygen")
		if r.code != ExitError || !strings.Contains(r.stderr, "--force") {
			t.Errorf("existing key: exit %d %s", r.code, r.stderr)
		}
	}
	// Only the public key exists: still refused, and nothing written.
	os.Remove("aigis.key")
	if r := runCLI(t, pw, "keygen"); r.code != ExitError {
		t.Errorf("existing public key: exit %d", r.code)
	}
	if _, err := os.Stat("aigis.key"); err == nil {
		t.Error("a private key was written beside a public key it does not match")
	}
	os.WriteFile("aigis.key", key, 0o600)
	if r := runCLI(t, pw, "keygen", "--force"); r.code != ExitOK {
		t.Fatalf("--force: exit %d %s", r.code, r.stderr)
	}
	newKey, _ := os.ReadFile("aigis.key")
	newPub, _ := os.ReadFile("aigis.pub")
	if string(newKey) == string(key) || string(newPub) == string(pub) {
		t.Error("--force did not replace the pair")
	}
	if st, _ := os.Stat("aigis.key"); st.Mode().Perm() != 0o600 {
		t.Errorf("replaced private key mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// Without a password keygen refuses, unless --no-password (on the command
// line) asks for an unencrypted key, loudly.
func TestKeygen_Password(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "k")
	if r := runCLI(t, nil, "keygen", "--output-key-prefix", prefix); r.code != ExitError || !strings.Contains(r.stderr, passwordEnv) {
		t.Errorf("no password, no terminal: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, map[string]string{"AIGIS_NO_PASSWORD": "true"}, "keygen", "--output-key-prefix", prefix); r.code != ExitError {
		t.Errorf("--no-password from the environment: exit %d", r.code)
	}
	if r := runCLI(t, map[string]string{passwordEnv: "x"}, "keygen", "--no-password", "--output-key-prefix", prefix); r.code != ExitError || !strings.Contains(r.stderr, "conflicts") {
		t.Errorf("--no-password with a password: exit %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(prefix + ".key"); err == nil {
		t.Fatal("a refused keygen wrote a key")
	}
	r := runCLI(t, nil, "keygen", "--no-password", "--output-key-prefix", prefix)
	if r.code != ExitOK || !strings.Contains(r.stderr, "UNENCRYPTED") {
		t.Fatalf("--no-password: exit %d %s", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(prefix + ".key"); !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("unencrypted key:\n%s", data)
	}
	model := modelDir(t)
	if r := runCLI(t, nil, "sign", "--private-key", prefix+".key", model); r.code != ExitOK {
		t.Fatalf("sign: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "verify", "--public-key", prefix+".pub", model); r.code != ExitOK {
		t.Fatalf("verify: exit %d %s", r.code, r.stderr)
	}
}
