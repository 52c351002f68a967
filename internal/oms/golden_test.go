package oms

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/testutil"
)

// pythonFixtures rebuilds the models of model_signing's tests/conftest.py,
// which its golden files were computed from. Each returns the model path.
var pythonFixtures = map[string]func(t *testing.T) string{
	"sample_model_file": func(t *testing.T) string {
		return writeTree(t, "file_model", map[string]string{"": "This is a simple model"})
	},
	"empty_model_file": func(t *testing.T) string {
		return writeTree(t, "empty_file_model", map[string]string{"": ""})
	},
	"sample_model_folder": func(t *testing.T) string {
		files := map[string]string{}
		for i := 0; i < 2; i++ {
			for j := 0; j < 3; j++ {
				files[sprintf("d%d/f%d%d", i, i, j)] = sprintf("This is file f%d%d in d%d.", i, j, i)
			}
		}
		for i := 0; i < 4; i++ {
			files[sprintf("f%d", i)] = sprintf("This is file f%d in root.", i)
		}
		return writeTree(t, "sample_model", files)
	},
	"empty_model_folder": func(t *testing.T) string {
		return writeTree(t, "empty_folder_model", map[string]string{})
	},
	"model_folder_with_empty_file": func(t *testing.T) string {
		return writeTree(t, "empty_file_inside_model", map[string]string{"empty_file": ""})
	},
	"deep_model_folder": func(t *testing.T) string {
		files := map[string]string{}
		for i := 0; i < 4; i++ {
			files[sprintf("d0/d1/d2/d3/d4/f%d", i)] = sprintf("This is file f%d.", i)
		}
		return writeTree(t, "deep_model", files)
	},
	"symlink_model_folder": func(t *testing.T) string {
		external := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(external, []byte("This is a simple model"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := writeTree(t, "symlink_model", map[string]string{})
		if err := os.Symlink(external, filepath.Join(dir, "symlink_file")); err != nil {
			t.Skip("symlinks unsupported:", err)
		}
		return dir
	},
}

// The model_signing golden tests serialize with symlinks allowed and no
// ignore paths (so nothing is recorded as ignored).
func goldenOptions(method Method, shardSize int64) Options {
	return Options{Method: method, ShardSize: shardSize, AllowSymlinks: true, IncludeGitPaths: true}
}

// TestGolden_SerializationManifests reproduces model_signing's
// serialization goldens (tests/_serialization/testdata): every resource
// name and digest, for files, 1 GB shards and 8-byte shards.
func TestGolden_SerializationManifests(t *testing.T) {
	base := testutil.Shared(t, "vectors", "oms", "model-transparency", "serialization-testdata")
	cases := []struct {
		dir, suffix string
		method      Method
		shard       int64
	}{
		{"file", "", MethodFiles, 0},
		{"file_shard", "", MethodShards, DefaultShardSize},
		{"file_shard", "_small_shards", MethodShards, 8},
	}
	n := 0
	for _, c := range cases {
		for name, fixture := range pythonFixtures {
			golden := filepath.Join(base, c.dir, "TestSerializer", name+c.suffix)
			if _, err := os.Stat(golden); err != nil {
				t.Errorf("missing golden %s", golden)
				continue
			}
			t.Run(c.dir+"/"+name+c.suffix, func(t *testing.T) {
				m, err := Build(context.Background(), fixture(t), goldenOptions(c.method, c.shard))
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]string{}
				for _, r := range m.Resources {
					got[r.Name] = hex.EncodeToString(r.Digest)
				}
				if want := readSerializationGolden(t, golden); !reflect.DeepEqual(got, want) {
					t.Errorf("manifest differs from golden\n got: %v\nwant: %v", got, want)
				}
			})
			n++
		}
	}
	if n != 21 {
		t.Errorf("compared %d serialization goldens, want 21 (7 models × files, shards, small shards)", n)
	}
}

func readSerializationGolden(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ':')
		out[line[:i]] = line[i+1:]
	}
	return out
}

// TestGolden_SigningPayloads reproduces model_signing's payload goldens
// (tests/_signing/testdata): the whole in-toto statement, resources in
// order, root digest and subject. Files-method statements are compared
// byte for byte; for shards model_signing writes shard_size as a float
// (1000000000.0) where aigis writes the integer the schema asks for, so
// those are compared as JSON values.
func TestGolden_SigningPayloads(t *testing.T) {
	base := testutil.Shared(t, "vectors", "oms", "model-transparency", "signing-testdata", "signing", "TestPayload")
	cases := []struct {
		suffix string
		method Method
		shard  int64
	}{
		{"", MethodFiles, 0},
		{"_shard", MethodShards, DefaultShardSize},
		{"_small_shards", MethodShards, 8},
	}
	n := 0
	for _, c := range cases {
		for name, fixture := range pythonFixtures {
			golden := filepath.Join(base, name+c.suffix)
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Errorf("missing golden %s: %v", golden, err)
				continue
			}
			n++
			t.Run(name+c.suffix, func(t *testing.T) {
				m, err := Build(context.Background(), fixture(t), goldenOptions(c.method, c.shard))
				if err != nil {
					t.Fatal(err)
				}
				got, err := m.Statement()
				if err != nil {
					t.Fatal(err)
				}
				if c.method == MethodFiles {
					if string(got) != strings.TrimSuffix(string(want), "\n") {
						t.Errorf("statement differs from golden\n got: %s\nwant: %s", got, want)
					}
					return
				}
				var g, w any
				if err := json.Unmarshal(got, &g); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(want, &w); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("statement differs from golden\n got: %s\nwant: %s", got, want)
				}
			})
		}
	}
	if n != 21 {
		t.Errorf("compared %d payload goldens, want 21", n)
	}
}
