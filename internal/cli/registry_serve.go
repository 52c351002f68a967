package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/aigis-dev/aigis/internal/oms"
	"github.com/aigis-dev/aigis/internal/registry"
	"github.com/aigis-dev/aigis/internal/registry/gate"
	"github.com/aigis-dev/aigis/internal/registry/store/fsblob"
	"github.com/aigis-dev/aigis/internal/registry/store/sqlite"
	"github.com/aigis-dev/aigis/internal/sign"
)

// defaultDataDir is <XDG data dir>/aigis/registry.
func defaultDataDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "aigis", "registry"), nil
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "aigis", "registry"), nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", errors.New("no data directory: pass --data")
	}
	return filepath.Join(d, "aigis", "registry"), nil
}

func addDataFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "data", "", "registry data directory: meta.db, blobs/, audit.key (default <XDG data dir>/aigis/registry)")
}

func dataDir(env *Env, p string) (string, error) {
	if p != "" {
		return p, nil
	}
	d, err := defaultDataDir(env.Getenv)
	if err != nil {
		return "", withCode(ExitError, err)
	}
	return d, nil
}

// openStores opens the embedded stores in dir.
func openStores(dir string, create bool) (*sqlite.DB, *fsblob.Store, error) {
	if !create {
		if _, err := os.Stat(filepath.Join(dir, "meta.db")); err != nil {
			return nil, nil, fmt.Errorf("no registry in %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		return nil, nil, err
	}
	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		meta.Close()
		return nil, nil, err
	}
	return meta, blobs, nil
}

// auditKey loads the audit checkpoint key, creating it on first start.
func auditKey(dir string) (*ecdsa.PrivateKey, error) {
	p := filepath.Join(dir, "audit.key")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		pem, err := sign.MarshalPrivateKey(k, nil)
		if err != nil {
			return nil, err
		}
		pub, err := sign.MarshalPublicKey(&k.PublicKey)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, pem, 0o600); err != nil {
			return nil, err
		}
		return k, os.WriteFile(filepath.Join(dir, "audit.pub"), pub, 0o644)
	}
	if err != nil {
		return nil, err
	}
	return sign.ParsePrivateKey(b, nil)
}

func parseModes(specs []string) (map[string]registry.GateMode, error) {
	modes := map[string]registry.GateMode{}
	for _, s := range specs {
		ns, m, ok := strings.Cut(s, "=")
		mode := registry.GateMode(m)
		if !ok || ns == "" || (mode != registry.GateManual && mode != registry.GateAuto && mode != registry.GateNone) {
			return nil, fmt.Errorf("--gate %q: want NAMESPACE=manual|auto|none (NAMESPACE * for every other)", s)
		}
		modes[ns] = mode
	}
	return modes, nil
}

func newRegistryServeCmd(env *Env) *cobra.Command {
	var data, listen, tlsCert, tlsKey, publicURL string
	var gates, policies, gateConfigFiles []string
	var maxBlob byteSize = 1 << 40
	var tokenTTL, adminTTL, shutdown time.Duration
	var workers int
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the registry: the OCI Distribution API, quarantine, gates and approvals",
		Long: `Serve an OCI Distribution API v1.1 registry for models. Every push lands in
quarantine; the gates check it; a person other than the pusher approves it
(aigis registry approve), unless its namespace approves what passes the
gates (--gate NS=auto). Only approved, unrevoked versions are served: any
other pull is refused with DENIED and the reason.

With no flags it keeps everything in one data directory (SQLite metadata,
content-addressed blobs) and listens on 127.0.0.1:5000. On first start it
creates the user admin and prints a token for it, once: log in with
'oras login -u admin' (the token as password) or set AIGIS_TOKEN.

Gate modes per namespace: manual (the default: gates, then a person),
auto (gates, then approved if they pass), none (approved on push without
gates: for tests and conformance runs only).

SIGINT or SIGTERM stops accepting connections, finishes the requests in
flight (pulls included) for up to --shutdown-timeout, and signs a final
audit checkpoint.`,
		Example: `  aigis registry serve
  aigis registry serve --listen :5000 --tls-cert cert.pem --tls-key key.pem
  aigis registry serve --gate ci=auto --gate conformance=none`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := dataDir(env, data)
			if err != nil {
				return err
			}
			modes, err := parseModes(gates)
			if err != nil {
				return withCode(ExitError, err)
			}
			gateCfg, err := gateConfigs(gateConfigFiles, policies)
			if err != nil {
				return withCode(ExitError, err)
			}
			if (tlsCert == "") != (tlsKey == "") {
				return withCode(ExitError, errors.New("--tls-cert and --tls-key go together"))
			}
			meta, blobs, err := openStores(dir, true)
			if err != nil {
				return withCode(ExitError, err)
			}
			defer meta.Close()
			key, err := auditKey(dir)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("audit key: %w", err))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			secret, created, err := registry.Bootstrap(ctx, meta, adminTTL)
			if err != nil {
				return withCode(ExitError, err)
			}
			if created {
				fmt.Fprintf(env.Stdout, "first start: created user %s with the admin role on every namespace\n", registry.AdminUser)
				fmt.Fprintf(env.Stdout, "admin token (shown once, valid for %s): %s\n", adminTTL, secret)
			}
			level := slog.LevelInfo
			if env.quiet {
				level = slog.LevelError
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			srv, err := registry.New(registry.Options{
				Meta: meta, Blobs: blobs, Modes: modes, GateConfig: gateCfg, Realm: realmOf(publicURL),
				MaxBlob: int64(maxBlob), TokenTTL: tokenTTL, AuditKey: key, GateWorkers: workers, Logger: log,
			})
			if err != nil {
				return withCode(ExitError, err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				srv.Close()
				return withCode(ExitError, err)
			}
			hs := &http.Server{
				Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
				MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			}
			scheme := "http"
			if tlsCert != "" {
				scheme = "https"
			}
			kid, _ := oms.KeyHint(&key.PublicKey)
			log.Info("serving", "url", scheme+"://"+ln.Addr().String(), "data", dir, "audit_key", kid[:16])
			errc := make(chan error, 1)
			go func() {
				if tlsCert != "" {
					errc <- hs.ServeTLS(ln, tlsCert, tlsKey)
				} else {
					errc <- hs.Serve(ln)
				}
			}()
			select {
			case err = <-errc:
			case <-ctx.Done():
				log.Info("shutting down: finishing requests in flight", "timeout", shutdown)
				sctx, cancel := context.WithTimeout(context.Background(), shutdown)
				err = hs.Shutdown(sctx)
				cancel()
			}
			if cerr := srv.Close(); err == nil {
				err = cerr
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return withCode(ExitError, err)
			}
			log.Info("stopped")
			return nil
		},
	}
	f := cmd.Flags()
	addDataFlag(cmd, &data)
	f.StringVar(&listen, "listen", "127.0.0.1:5000", "address to listen on")
	f.StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	f.StringVar(&publicURL, "public-url", "", "the URL clients reach the registry at, for the token realm (default: the request's host)")
	f.StringSliceVar(&gates, "gate", nil, "gate mode of a namespace: NS=manual|auto|none (repeatable; * for every other namespace)")
	f.StringSliceVar(&gateConfigFiles, "gate-config", nil, "gate configuration of a namespace: NS=FILE, YAML or JSON (trust: public_keys, certificates, sigstore; licenses; osv_db; limits; policy) (repeatable; * for every other namespace)")
	f.StringSliceVar(&policies, "policy", nil, "gate policy (CEL) of a namespace: NS=FILE (repeatable; default: the shipped policy)")
	f.Var(&maxBlob, "max-blob-size", "largest blob accepted (units: GiB, TB, ...)")
	f.DurationVar(&tokenTTL, "token-ttl", time.Hour, "life of a token from the token endpoint (docker/oras login)")
	f.DurationVar(&adminTTL, "admin-token-ttl", 7*24*time.Hour, "life of the admin token printed on first start")
	f.DurationVar(&shutdown, "shutdown-timeout", time.Minute, "how long a shutdown waits for requests in flight")
	f.IntVar(&workers, "gate-workers", 2, "gate jobs run at once in this process (-1: none)")
	commandLineOnly(cmd, "gate", "policy", "gate-config")
	return cmd
}

// gateConfigs reads --gate-config and --policy into each namespace's gate
// configuration. Unknown keys are errors: a typo in a trust list must not
// silently trust nobody or everybody.
func gateConfigs(files, policies []string) (map[string]gate.Config, error) {
	out := map[string]gate.Config{}
	for _, spec := range files {
		ns, file, ok := strings.Cut(spec, "=")
		if !ok || ns == "" || file == "" {
			return nil, fmt.Errorf("--gate-config %q: want NAMESPACE=FILE", spec)
		}
		b, err := readBounded(file, maxConfigSize)
		if err != nil {
			return nil, fmt.Errorf("--gate-config %s: %w", file, err)
		}
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("--gate-config %s: %w", file, yamlMessage(err))
		}
		j, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("--gate-config %s: %w", file, err)
		}
		var c gate.Config
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("--gate-config %s: %v", file, err)
		}
		out[ns] = c
	}
	for _, spec := range policies {
		ns, file, ok := strings.Cut(spec, "=")
		if !ok || ns == "" || file == "" {
			return nil, fmt.Errorf("--policy %q: want NAMESPACE=FILE", spec)
		}
		b, err := readBounded(file, maxConfigSize)
		if err != nil {
			return nil, fmt.Errorf("--policy %s: %w", file, err)
		}
		c := out[ns]
		c.Policy = string(b)
		out[ns] = c
	}
	return out, nil
}

func realmOf(publicURL string) string {
	if publicURL == "" {
		return ""
	}
	return strings.TrimSuffix(publicURL, "/") + "/token"
}
