package osvdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultUpdateURL serves one export per ecosystem at <base>/<Ecosystem>/all.zip
// (the exports osv-scanner's offline mode downloads).
const DefaultUpdateURL = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are the exports db update fetches when none are named:
// the ecosystems ML projects pull from.
var DefaultEcosystems = []string{"PyPI", "npm", "Go", "crates.io", "Maven"}

// UpdateOptions configures Update. The zero value downloads
// DefaultEcosystems from DefaultUpdateURL.
type UpdateOptions struct {
	BaseURL    string
	Ecosystems []string
	Client     *http.Client
	// Progress, if set, is told about each download.
	Progress func(ecosystem string, bytes int64)
	// Replace is ImportOptions.Replace.
	Replace bool
}

// ErrOffline wraps network failures: no route, no DNS, refused, timed out.
var ErrOffline = errors.New("the OSV export server cannot be reached")

// Update downloads each ecosystem's export into a temporary directory laid
// out like osv-scanner's offline cache, then imports them all at once (see
// Import). Nothing in the store changes when a download fails.
func Update(ctx context.Context, dbPath string, opt UpdateOptions) (*ImportResult, error) {
	base := opt.BaseURL
	if base == "" {
		base = DefaultUpdateURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("update URL %q: want https://host[/path]", base)
	}
	ecos := opt.Ecosystems
	if len(ecos) == 0 {
		ecos = DefaultEcosystems
	}
	client := opt.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dbPath), ".osv-download-")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
			return nil, err
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(dbPath), ".osv-download-"); err != nil {
			return nil, err
		}
	}
	defer os.RemoveAll(tmp)
	var dirs []string
	for _, eco := range ecos {
		if strings.ContainsAny(eco, `/\`) || eco == "" || eco == "." || eco == ".." {
			return nil, fmt.Errorf("ecosystem %q is not a plain name", eco)
		}
		dst := filepath.Join(tmp, "osv-scanner", eco, "all.zip")
		n, err := download(ctx, client, strings.TrimRight(base, "/")+"/"+url.PathEscape(eco)+"/all.zip", dst)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", eco, err)
		}
		if opt.Progress != nil {
			opt.Progress(eco, n)
		}
		dirs = append(dirs, dst)
	}
	return ImportWith(ctx, dbPath, ImportOptions{Replace: opt.Replace}, dirs...)
}

func download(ctx context.Context, client *http.Client, src, dst string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "aigis")
	resp, err := client.Do(req)
	if err != nil {
		if isNetworkError(err) {
			return 0, fmt.Errorf("%w (%v); on an offline machine copy the exports over and run 'aigis db import DIR'", ErrOffline, err)
		}
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	if resp.ContentLength > maxExportBytes {
		return 0, fmt.Errorf("GET %s: %d bytes, over the %d byte limit", src, resp.ContentLength, int64(maxExportBytes))
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxExportBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if isNetworkError(err) {
			return n, fmt.Errorf("%w while downloading %s (%v)", ErrOffline, src, err)
		}
		return n, err
	}
	if n > maxExportBytes {
		return n, fmt.Errorf("GET %s: over the %d byte limit", src, int64(maxExportBytes))
	}
	return n, nil
}

func isNetworkError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &de)
}
