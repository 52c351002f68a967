package oms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/hashing"
)

func resourceNames(m *Manifest) []string {
	var out []string
	for _, r := range m.Resources {
		out = append(out, r.Name)
	}
	return out
}

// model_signing sorts by path components, the spec by code point; the two
// differ exactly when a directory name is a prefix of a sibling file name.
func TestBuild_NamingOrdersResources(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"tokenizer/vocab.json": "v", "tokenizer.json": "t", "a": "a"})
	py, err := Build(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Build(context.Background(), root, Options{Naming: NamingSpec})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resourceNames(py), []string{"a", "tokenizer/vocab.json", "tokenizer.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("python order %v, want %v", got, want)
	}
	if got, want := resourceNames(spec), []string{"a", "tokenizer.json", "tokenizer/vocab.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("spec order %v, want %v", got, want)
	}
	if bytes.Equal(py.RootDigest(), spec.RootDigest()) {
		t.Error("the root digest must follow the order")
	}
}

func TestBuild_NamingLabelsSingleFilesAndShards(t *testing.T) {
	root := writeTree(t, "weights.bin", map[string]string{"": "0123456789"})
	for _, tc := range []struct {
		naming    Naming
		name, alg string
	}{
		{NamingPython, ".:0:4", "sha256-sharded-4"},
		{NamingSpec, "weights.bin:0:4", "sha256"},
	} {
		m, err := Build(context.Background(), root, Options{Method: MethodShards, ShardSize: 4, Naming: tc.naming})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Resources) != 3 || m.Resources[0].Name != tc.name || m.Resources[0].Algorithm != tc.alg || m.Resources[2].Name[len(m.Resources[2].Name)-5:] != ":8:10" {
			t.Errorf("%v: %+v", tc.naming, m.Resources)
		}
		want := sha256.Sum256([]byte("0123"))
		if !bytes.Equal(m.Resources[0].Digest, want[:]) {
			t.Errorf("%v: first shard digest %x", tc.naming, m.Resources[0].Digest)
		}
	}
}

func TestBuild_ShardsOrderNumericallyInPythonNaming(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"f": string(make([]byte, 100))})
	m, err := Build(context.Background(), root, Options{Method: MethodShards, ShardSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if got := resourceNames(m); got[1] != "f:8:16" || got[2] != "f:16:24" || len(got) != 13 || got[12] != "f:96:100" {
		t.Errorf("shard order %v", got)
	}
}

func TestBuild_RecordsIgnoredPathsSortedAndDeterministic(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"a": "1", "skip/me": "2", ".git/x": "3"})
	opts := Options{IgnorePaths: []string{"skip/", "./skip", "model.sig"}}
	m1, err := Build(context.Background(), root, opts)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := Build(context.Background(), root, opts)
	want := []string{".git", ".gitattributes", ".github", ".gitignore", "model.sig", "skip"}
	if !reflect.DeepEqual(m1.Serialization.IgnorePaths, want) {
		t.Errorf("ignore_paths %v, want %v", m1.Serialization.IgnorePaths, want)
	}
	s1, _ := m1.Statement()
	s2, _ := m2.Statement()
	if !bytes.Equal(s1, s2) || !reflect.DeepEqual(resourceNames(m1), []string{"a"}) {
		t.Errorf("not deterministic or wrong files:\n%s\n%s", s1, s2)
	}
	if _, err := Build(context.Background(), root, Options{IgnorePaths: []string{"../x"}}); err == nil {
		t.Error("an ignore path outside the model was accepted")
	}
}

func TestBuild_EveryAlgorithm(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"a": "abc"})
	for _, alg := range hashing.Algorithms() {
		m, err := Build(context.Background(), root, Options{HashType: alg})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := hashing.Sum(alg, bytes.NewReader([]byte("abc")))
		if r := m.Resources[0]; r.Algorithm != string(alg) || !bytes.Equal(r.Digest, want) {
			t.Errorf("%s: %+v", alg, r)
		}
		// The root digest is SHA-256 whatever the file hash is.
		if root := sha256.Sum256(want); !bytes.Equal(m.RootDigest(), root[:]) {
			t.Errorf("%s: root %x", alg, m.RootDigest())
		}
	}
	if _, err := Build(context.Background(), root, Options{HashType: "md5"}); err == nil {
		t.Error("md5 accepted")
	}
	if _, err := Build(context.Background(), root, Options{Method: "tensors"}); err == nil {
		t.Error("unknown method accepted")
	}
}

func TestShards(t *testing.T) {
	for _, tc := range []struct {
		size, shard int64
		want        [][2]int64
	}{
		{0, 8, nil},
		{8, 8, [][2]int64{{0, 8}}},
		{22, 8, [][2]int64{{0, 8}, {8, 16}, {16, 22}}},
	} {
		if got := Shards(tc.size, tc.shard); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Shards(%d, %d) = %v, want %v", tc.size, tc.shard, got, tc.want)
		}
	}
}

func TestParseShardName(t *testing.T) {
	for _, tc := range []struct {
		in         string
		name       string
		start, end int64
		ok         bool
	}{
		{"a/b.bin:0:8", "a/b.bin", 0, 8, true},
		{".:16:22", ".", 16, 22, true},
		{"weird:name:0:1", "weird:name", 0, 1, true}, // colons in paths: the last two fields are the range
		{"a:8:8", "", 0, 0, false},
		{"a:9:8", "", 0, 0, false},
		{"a:-1:8", "", 0, 0, false},
		{"a:0x1:8", "", 0, 0, false},
		{"a:1", "", 0, 0, false},
		{"a", "", 0, 0, false},
		{"a:0:99999999999999999999", "", 0, 0, false},
	} {
		name, s, e, err := ParseShardName(tc.in)
		if (err == nil) != tc.ok || name != tc.name || s != tc.start || e != tc.end {
			t.Errorf("ParseShardName(%q) = %q %d %d %v", tc.in, name, s, e, err)
		}
	}
}

func TestValidName(t *testing.T) {
	for in, ok := range map[string]bool{
		"a": true, "a/b": true, ".": true, ".hidden/x": true, "模型.bin": true, "file (copy).bin": true,
		"": false, "/etc/passwd": false, "../x": false, "a/../b": false, "a//b": false, "./a": false, "a/": false, "..": false, "a\x00b": false,
	} {
		if ValidName(in) != ok {
			t.Errorf("ValidName(%q) = %v", in, !ok)
		}
	}
}

func TestRootDigestOfEmptyManifestIsSHA256OfNothing(t *testing.T) {
	if got := hex.EncodeToString((&Manifest{}).RootDigest()); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Error(got)
	}
}

func TestBuild_ShardCountIsBounded(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"f": ""})
	if err := os.Truncate(filepath.Join(root, "f"), MaxResources+1); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), root, Options{Method: MethodShards, ShardSize: 1})
	if err == nil || !strings.Contains(err.Error(), "larger --shard-size") {
		t.Fatalf("got %v", err)
	}
}
