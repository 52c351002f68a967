package image

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/image/secrets"
	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/report"
)

// imageConfig is the part of the OCI image configuration aigis reads.
type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Created      string `json:"created"`
	Config       struct {
		User       string            `json:"User"`
		Env        []string          `json:"Env"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		WorkingDir string            `json:"WorkingDir"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	History []struct {
		Created    string `json:"created"`
		CreatedBy  string `json:"created_by"`
		Comment    string `json:"comment"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
}

var secretRule = map[secrets.Kind]rules.ID{
	secrets.HuggingFace:    rules.ImageSecretHuggingface,
	secrets.OpenAI:         rules.ImageSecretOpenai,
	secrets.AWS:            rules.ImageSecretAws,
	secrets.GCP:            rules.ImageSecretGcp,
	secrets.Netrc:          rules.ImageSecretNetrc,
	secrets.GitCredentials: rules.ImageSecretGitCredentials,
}

func secretFinding(h secrets.Hit, loc, where string) report.Finding {
	f := rules.New(secretRule[h.Kind], loc, fmt.Sprintf("%s in %s: %s", h.What, where, h.Masked))
	if h.Partial {
		f.Severity = report.SeverityMedium
		f.Message += " (its secret key was not found beside it)"
	}
	return f
}

var (
	addURLRE      = regexp.MustCompile(`(?i)(?:^|[\s;&|])ADD\s+(?:--\S+\s+)*\[?\s*"?((?:https?|ftp)://[^\s"\]]+)`)
	jupyterFlagRE = regexp.MustCompile(`--(?:NotebookApp|ServerApp|IdentityProvider)\.token\s*=\s*(?:''|""|\s|$)`)
	jupyterCfgRE  = regexp.MustCompile(`(?m)^\s*c\.(?:NotebookApp|ServerApp|IdentityProvider)\.token\s*=\s*(?:''|"")\s*$`)
	jupyterJSONRE = regexp.MustCompile(`"token"\s*:\s*""`)
	remoteCodeRE  = regexp.MustCompile(`(?m)^[^#\n]*\btrust_remote_code\s*=\s*True\b`)
	remoteCodeNB  = regexp.MustCompile(`trust_remote_code\s*=\s*True\b`)
)

// configChecks checks the image configuration: the user, the
// environment, labels, the command and the build history. Findings on a
// history entry go to its layer's artifact.
func configChecks(cfg *imageConfig, img *report.Artifact, layers []*report.Artifact) {
	u := strings.TrimSpace(cfg.Config.User)
	name, _, _ := strings.Cut(u, ":")
	if name == "" || name == "root" || name == "0" {
		msg := "the configuration names no user, so the container runs as root"
		if u != "" {
			msg = fmt.Sprintf("the configuration's user is %q (root)", u)
		}
		img.Add(rules.New(rules.ImageRunsAsRoot, "config.User", msg))
	}
	for i, kv := range cfg.Config.Env {
		loc := fmt.Sprintf("config.Env[%d]", i)
		k, _, _ := strings.Cut(kv, "=")
		for _, h := range secrets.Env(kv) {
			img.Add(secretFinding(h, loc, "the environment ("+k+")"))
		}
		if k == "JUPYTER_TOKEN" && strings.TrimPrefix(kv, "JUPYTER_TOKEN=") == "" {
			img.Add(rules.New(rules.ImageJupyterNoToken, loc, "JUPYTER_TOKEN is set empty in the environment"))
		}
	}
	for _, k := range sortedKeys(cfg.Config.Labels) {
		for _, h := range secrets.Text(cfg.Config.Labels[k]) {
			img.Add(secretFinding(h, "config.Labels."+k, "the label "+k))
		}
	}
	cmd := strings.Join(append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...), " ")
	for _, h := range secrets.Text(cmd) {
		img.Add(secretFinding(h, "config.Cmd", "the command"))
	}
	if strings.Contains(cmd, "jupyter") && jupyterFlagRE.MatchString(cmd) {
		img.Add(rules.New(rules.ImageJupyterNoToken, "config.Cmd", fmt.Sprintf("the image starts Jupyter with an empty token: %s", truncate(cmd, 200))))
	}
	layer := 0
	for i, h := range cfg.History {
		target := img
		if !h.EmptyLayer {
			if layer < len(layers) {
				target = layers[layer]
			}
			layer++
		}
		loc := fmt.Sprintf("history[%d]", i)
		if m := addURLRE.FindStringSubmatch(h.CreatedBy); m != nil {
			target.Add(rules.New(rules.ImageAddRemoteUrl, loc, fmt.Sprintf("the build ran ADD %s", truncate(m[1], 200))))
		}
		for _, s := range secrets.Text(h.CreatedBy) {
			target.Add(secretFinding(s, loc, "the build history"))
		}
		for _, kv := range envAssignments(h.CreatedBy) {
			for _, s := range secrets.Env(kv) {
				if len(secrets.Text(h.CreatedBy)) == 0 {
					target.Add(secretFinding(s, loc, "the build history"))
				}
			}
		}
		if strings.Contains(h.CreatedBy, "jupyter") && jupyterFlagRE.MatchString(h.CreatedBy) && strings.Contains(h.CreatedBy, "CMD") {
			target.Add(rules.New(rules.ImageJupyterNoToken, loc, fmt.Sprintf("the build set a command that starts Jupyter with an empty token: %s", truncate(h.CreatedBy, 200))))
		}
	}
}

var envAssignRE = regexp.MustCompile(`\b([A-Z_][A-Z0-9_]*)=("[^"]*"|'[^']*'|\S+)`)

// envAssignments finds NAME=value in a history entry (ENV, ARG, RUN).
func envAssignments(s string) []string {
	var out []string
	for _, m := range envAssignRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1]+"="+strings.Trim(m[2], `"'`))
	}
	return out
}

// libraryDir reports whether p lies in an installed library (Python
// site-packages, the system's shared data): application code is what is
// not.
func libraryDir(p string) bool {
	return strings.Contains(p, "/site-packages/") || strings.Contains(p, "/dist-packages/") ||
		strings.HasPrefix(p, "usr/lib/python") || strings.HasPrefix(p, "usr/share/") ||
		strings.Contains(p, "/node_modules/") || strings.Contains(p, "/conda-meta/")
}

// testDir is test data inside an installed library, where fake
// credentials are expected.
func testDir(p string) bool {
	return libraryDir(p) && (strings.Contains(p, "/tests/") || strings.Contains(p, "/test/") || strings.Contains(p, "/testing/"))
}

// textFindings runs the checks that read a file's bytes.
func (r *run) textFindings(e *entry, data []byte) []report.Finding {
	var out []report.Finding
	p := e.path
	if !testDir(p) && !strings.HasPrefix(p, "usr/share/doc/") {
		for _, h := range secrets.File(p, data) {
			loc := "/" + p
			if h.Line > 0 {
				loc += ":" + strconv.Itoa(h.Line)
			}
			out = append(out, secretFinding(h, loc, "/"+p))
		}
	}
	if libraryDir(p) {
		return out
	}
	base := path.Base(p)
	ext := path.Ext(p)
	switch {
	case ext == ".py" || ext == ".sh" || ext == ".ipynb":
		re := remoteCodeRE
		if ext == ".ipynb" {
			re = remoteCodeNB
		}
		if loc := re.FindIndex(data); loc != nil {
			line := strings.Count(string(data[:loc[0]]), "\n") + 1
			out = append(out, rules.New(rules.ImageTrustRemoteCode, fmt.Sprintf("/%s:%d", p, line), fmt.Sprintf("/%s:%d loads a model with trust_remote_code=True", p, line)))
		}
	}
	if strings.HasPrefix(base, "jupyter_") && strings.Contains(base, "_config") {
		switch {
		case ext == ".py" && jupyterCfgRE.Match(data):
			out = append(out, rules.New(rules.ImageJupyterNoToken, "/"+p, fmt.Sprintf("/%s sets an empty Jupyter token", p)))
		case ext == ".json" && jupyterJSONRE.Match(data):
			out = append(out, rules.New(rules.ImageJupyterNoToken, "/"+p, fmt.Sprintf("/%s sets an empty Jupyter token", p)))
		}
	} else if (ext == ".sh" || ext == "" || ext == ".py") && len(data) < 1<<20 {
		s := string(data)
		if strings.Contains(s, "jupyter") && jupyterFlagRE.MatchString(s) {
			out = append(out, rules.New(rules.ImageJupyterNoToken, "/"+p, fmt.Sprintf("/%s starts Jupyter with an empty token", p)))
		}
	}
	return out
}

// wantKeep says whether the inventory needs a file's content: a package
// database or metadata file an extractor reads, the OS release, the GPU
// stack's version files and configuration.
func (r *run) wantKeep(e *entry) bool {
	p := e.path
	switch p {
	case "etc/os-release", "usr/lib/os-release", "etc/nvidia-container-runtime/config.toml":
		return true
	}
	base := path.Base(p)
	switch base {
	case "cudnn_version.h", "cudnn.h", "nccl.h", "NvInferVersion.h":
		return e.size < 1<<20
	case "version.json", "version.txt":
		return strings.Contains(p, "cuda") && e.size < 1<<20
	}
	if r.opt.Signatures != nil && isBundleName(p) && e.size < 16<<20 {
		return true
	}
	return requiredBy(p, entryInfo{e}) != nil
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sortStrings(k)
	return k
}
