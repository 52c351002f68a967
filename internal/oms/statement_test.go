package oms

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var (
	rootRe   = regexp.MustCompile(`"sha256": "[0-9a-f]{64}"`)
	digestRe = regexp.MustCompile(`"digest": "[0-9a-f]{64}"`)
)

// validStatement is a real files-method payload for two files, built the
// way model_signing builds it.
func validStatement(t testing.TB) []byte {
	root := writeTree(t, "model", map[string]string{"signme-1": "a", "signme-2": "b"})
	m, err := Build(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Statement()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseStatement_RoundTrip(t *testing.T) {
	root := writeTree(t, "model", map[string]string{"a": "1", "d/b": "2"})
	for _, opts := range []Options{{}, {Method: MethodShards, ShardSize: 1}, {Naming: NamingSpec, HashType: "blake2b"}} {
		m, err := Build(context.Background(), root, opts)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := m.Statement()
		back, err := ParseStatement(s)
		if err != nil {
			t.Fatalf("%+v: %v\n%s", opts, err, s)
		}
		if back.ModelName != "model" || len(back.Resources) != len(m.Resources) || back.Serialization.Method != m.Serialization.Method || back.Serialization.ShardSize != m.Serialization.ShardSize {
			t.Errorf("round trip lost data: %+v", back)
		}
	}
}

// Every way a payload can be malformed is a FormatError that says what.
func TestParseStatement_RejectsMalformedPayloads(t *testing.T) {
	good := string(validStatement(t))
	swap := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	for _, tc := range []struct{ name, payload, want string }{
		{"not json", "{", "not a JSON"},
		{"wrong _type", swap("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"), "_type"},
		{"no _type", swap(`"_type": "https://in-toto.io/Statement/v1",`, ""), "no _type"},
		{"wrong predicate type", swap(PredicateType, "https://example.com/wrong"), "predicateType"},
		{"no subject", swap(`"subject": [`, `"subject": [], "x": [`), "0 subjects"},
		{"no predicate", `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}],"predicateType":"https://model_signing/signature/v1.0"}`, "no predicate"},
		{"empty resources", `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":false},"resources":[]}}`, "no resources"},
		{"root digest mismatch", rootRe.ReplaceAllString(good, `"sha256": "`+strings.Repeat("0", 64)+`"`), "inconsistent"},
		{"root digest not hex", rootRe.ReplaceAllString(good, `"sha256": "xyz"`), "64 hex digits"},
		{"unknown method", swap(`"method": "files"`, `"method": "tensors"`), "not files or shards"},
		{"unknown hash", swap(`"hash_type": "sha256"`, `"hash_type": "md5"`), "hash_type"},
		{"missing allow_symlinks", swap(`"allow_symlinks": false,`, ``), "allow_symlinks"},
		{"files with shard_size", swap(`"allow_symlinks": false`, `"allow_symlinks": false, "shard_size": 8`), "has a shard_size"},
		{"algorithm disagrees", swap(`"algorithm": "sha256"`, `"algorithm": "blake3"`), "algorithm"},
		{"short digest", digestRe.ReplaceAllString(good, `"digest": "abcd"`), "hex digits"},
		{"resource without digest", digestRe.ReplaceAllString(good, `"x": "abcd"`), "needs name, algorithm and digest"},
		{"escaping name", swap(`"name": "signme-1"`, `"name": "../signme-1"`), "clean path"},
		{"absolute name", swap(`"name": "signme-1"`, `"name": "/etc/passwd"`), "clean path"},
		{"duplicate name", swap(`"name": "signme-2"`, `"name": "signme-1"`), "twice"},
		{"no serialization", swap(`"serialization": {`, `"serialisation": {`), "no serialization"},
	} {
		_, err := ParseStatement([]byte(tc.payload))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a FormatError mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestParseStatement_ShardSizeAsPythonFloat(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"f": "0123456789"})
	m, _ := Build(context.Background(), root, Options{Method: MethodShards, ShardSize: 4})
	s, _ := m.Statement()
	py := strings.Replace(string(s), `"shard_size": 4`, `"shard_size": 4.0`, 1)
	back, err := ParseStatement([]byte(py))
	if err != nil || back.Serialization.ShardSize != 4 {
		t.Fatalf("%v %+v", err, back)
	}
	for _, bad := range []string{"4.5", "0", "-4", "1e300", `"4"`} {
		if _, err := ParseStatement([]byte(strings.Replace(string(s), `"shard_size": 4`, `"shard_size": `+bad, 1))); err == nil {
			t.Errorf("shard_size %s accepted", bad)
		}
	}
}

func TestParseStatement_Legacy(t *testing.T) {
	p := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"signme-1","digest":{"sha256":"f6310066c7320497ea554260c32c43660bff648cb2a61194832cc086077085e1"},"annotations":{"actual_hash_algorithm":"file-sha256"}},{"name":"signme-2","digest":{"sha256":"32dcb1f8e1ae52d5963e56a6ba06ab58b424c15ed2a6b70d2feca1d089370028"}}],"predicateType":"https://model_signing/Digests/v0.1","predicate":{"unused":"Unused, just passed due to API requirements"}}`
	m, err := ParseStatement([]byte(p))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Legacy || len(m.Resources) != 2 || m.Resources[1].Name != "signme-2" || m.Serialization.HashType != "sha256" {
		t.Errorf("%+v", m)
	}
	for _, bad := range []string{
		strings.Replace(p, `"sha256":"f63`, `"sha512":"f63`, 1),
		strings.Replace(p, `"name":"signme-1"`, `"name":"../x"`, 1),
		`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://model_signing/Digests/v0.1"}`,
	} {
		if _, err := ParseStatement([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
