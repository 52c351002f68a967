package oms

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func names(m *Model) []string {
	var out []string
	for _, f := range m.Files {
		out = append(out, f.Name)
	}
	return out
}

func problems(m *Model) map[string]ProblemKind {
	out := map[string]ProblemKind{}
	for _, p := range m.Problems {
		out[p.Name] = p.Kind
	}
	return out
}

func TestWalk_IgnoreMatchesWholeComponentsFromTheRoot(t *testing.T) {
	root := writeTree(t, "m", map[string]string{
		"cache/a": "1", "cache2": "2", "sub/cache": "3", "sub/cache.bin": "4",
		".git/HEAD": "5", ".gitignore": "6", "sub/.git/x": "7", ".github/ci.yml": "8",
		".gitattributes": "9", ".gitmodules": "10", ".config": "11", ".cache/w.bin": "12",
	})
	m, err := Walk(root, WalkOptions{Ignore: append([]string{"cache"}, GitPaths...)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".cache/w.bin", ".config", ".gitmodules", "cache2", "sub/.git/x", "sub/cache", "sub/cache.bin"}
	if got := names(m); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v\nwant %v", got, want)
	}
}

func TestWalk_SingleFileIsNamedDot(t *testing.T) {
	root := writeTree(t, "model.bin", map[string]string{"": "abc"})
	m, err := Walk(root, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Single || len(m.Files) != 1 || m.Files[0].Name != "." || m.Files[0].Size != 3 {
		t.Fatalf("single file model: %+v", m)
	}
}

func TestWalk_SymlinkPolicy(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"a": "x", "dir/b": "y"})
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, []byte("z"), 0o644)
	links := map[string]string{"to-a": "a", "to-outside": outside, "to-dir": "dir", "broken": "nowhere", "loop": "loop", "cycle": "."}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Skip("symlinks unsupported:", err)
		}
	}
	t.Run("refused by default", func(t *testing.T) {
		m, err := Walk(root, WalkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for name := range links {
			if problems(m)[name] != ProblemSymlink {
				t.Errorf("%s: problem %q, want %q", name, problems(m)[name], ProblemSymlink)
			}
		}
		if got := names(m); !reflect.DeepEqual(got, []string{"a", "dir/b"}) {
			t.Errorf("files = %v", got)
		}
		if _, err := Build(context.Background(), root, Options{}); err == nil || !strings.Contains(err.Error(), "to-outside") {
			t.Errorf("Build must refuse a model with links and name them: %v", err)
		}
	})
	t.Run("allowed: files hashed by target, everything else refused", func(t *testing.T) {
		m, err := Walk(root, WalkOptions{AllowSymlinks: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(m); !reflect.DeepEqual(got, []string{"a", "dir/b", "to-a", "to-outside"}) {
			t.Errorf("files = %v", got)
		}
		want := map[string]ProblemKind{"to-dir": ProblemLinkedDir, "cycle": ProblemLinkedDir, "broken": ProblemBrokenLink, "loop": ProblemBrokenLink}
		if got := problems(m); !reflect.DeepEqual(got, want) {
			t.Errorf("problems = %v\nwant %v", got, want)
		}
	})
	t.Run("ignored links are not problems", func(t *testing.T) {
		var ignore []string
		for name := range links {
			ignore = append(ignore, name)
		}
		m, err := Walk(root, WalkOptions{Ignore: ignore})
		if err != nil || len(m.Problems) != 0 {
			t.Fatalf("%v %v", m.Problems, err)
		}
	})
}

func TestWalk_RootSymlinkNeedsPermission(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"a": "x"})
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(root, link); err != nil {
		t.Skip(err)
	}
	if _, err := Walk(link, WalkOptions{}); err == nil {
		t.Error("a model path that is a link was followed without --allow-symlinks")
	}
	if m, err := Walk(link, WalkOptions{AllowSymlinks: true}); err != nil || !reflect.DeepEqual(names(m), []string{"a"}) {
		t.Errorf("allowed root link: %v %v", m, err)
	}
}

func TestWalk_SpecialFilesAndBadNamesAreProblems(t *testing.T) {
	root := writeTree(t, "m", map[string]string{"ok": "x"})
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	if err := os.WriteFile(filepath.Join(root, "bad\xffname"), []byte("x"), 0o644); err != nil {
		t.Skip("non-UTF-8 names unsupported:", err)
	}
	m, err := Walk(root, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := problems(m)
	if got["fifo"] != ProblemSpecialFile || got["bad\uFFFDname"] != ProblemBadName || len(got) != 2 {
		t.Errorf("problems = %v", got)
	}
}

func TestWalk_MissingModel(t *testing.T) {
	if _, err := Walk(filepath.Join(t.TempDir(), "nope"), WalkOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}

func TestOpener_RefusesSwappedInLinkAndFIFO(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "t")
	os.WriteFile(target, []byte("x"), 0o644)
	link := filepath.Join(dir, "l")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	if f, err := Opener(false)(link); err == nil {
		f.Close()
		t.Error("opened a link without permission")
	}
	if f, err := Opener(true)(link); err != nil {
		t.Errorf("allowed link: %v", err)
	} else {
		f.Close()
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err == nil {
		if f, err := Opener(true)(fifo); err == nil {
			f.Close()
			t.Error("opened a FIFO")
		}
	}
}

func TestModelName(t *testing.T) {
	dir := t.TempDir()
	cwd, _ := os.Getwd()
	defer os.Chdir(cwd)
	os.Chdir(dir)
	for in, want := range map[string]string{"models/bert/": "bert", "a/b.bin": "b.bin", ".": filepath.Base(dir), "x/..": filepath.Base(dir)} {
		if got := ModelName(in); got != want {
			t.Errorf("ModelName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveIgnorePath(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "model")
	for _, tc := range []struct{ path, cwd, want, err string }{
		{"model/ignore-me", base, "ignore-me", ""},                       // model_signing: relative to the working directory
		{"./model/sub/x/", base, "sub/x", ""},                            //
		{"ignore-me", root, "ignore-me", ""},                             // from inside the model
		{"ignore-me", base, "ignore-me", ""},                             // not under cwd's view of the model: model-relative
		{filepath.Join(root, "a/b"), "/", "a/b", ""},                     // absolute inside
		{"/etc/passwd", base, "", "outside the model"},                   // absolute outside
		{"../x", root, "", "outside the model"},                          // escapes
		{".", root, "", "whole model"},                                   // the model itself
		{"sub/../../y", filepath.Join(base, "elsewhere"), "", "outside"}, //
	} {
		got, err := ResolveIgnorePath(root, tc.path, tc.cwd)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolveIgnorePath(%q, cwd %q) = %q, %v; want error %q", tc.path, tc.cwd, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolveIgnorePath(%q, cwd %q) = %q, %v; want %q", tc.path, tc.cwd, got, err, tc.want)
		}
	}
}
