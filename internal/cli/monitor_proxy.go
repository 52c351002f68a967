package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigis-dev/aigis/internal/monitor"
	"github.com/aigis-dev/aigis/internal/monitor/integrity"
	"github.com/aigis-dev/aigis/internal/monitor/proxy"
	"github.com/aigis-dev/aigis/internal/verify"
)

func newMonitorProxyCmd(env *Env) *cobra.Command {
	var df detectorFlags
	var upstream, listen, protocol, baseline, logFile, metricsAddr, otlp, provider, webhook, canaryFile string
	var paths proxy.JSONPaths
	var block, fpHeaders []string
	var learn, maxCapture, queue int
	var logContent bool
	var upstreamTimeout, canaryEvery, integrityEvery time.Duration
	var model, signature, publicKey, identity, issuer, trustedRoot string
	var certChain []string
	cmd := &cobra.Command{
		Use:   "proxy --upstream URL [flags]",
		Short: "Run a monitoring reverse proxy in front of an inference server",
		Long: `Listen on --listen and proxy every request to --upstream unchanged,
recording the features of each inference request and response off the
hot path for the monitor's detectors.

Protocols (--protocol auto picks by path):
  openai   POST .../chat/completions and .../completions, streaming (SSE)
           or not: the prompt's words, the model, system_fingerprint, the
           generated text's length, refusal, language and tokens, usage
  kserve   POST /v2/models/NAME[/versions/V]/infer (Open Inference
           Protocol): inputs[0].data, outputs (scores or a label)
  json     any JSON API: --input-path (request), --label-path,
           --scores-path, --confidence-path, --model-path (response), in
           gjson path syntax (predictions.0.scores)

The detectors learn from --baseline (a traffic log, as analyze reads and
--log writes) or from the first --learn requests. Alerts go to the log
(stderr, JSON), to --webhook, and to the Prometheus metrics on
--metrics-addr (/metrics); spans go to --otlp-endpoint (OTLP/HTTP).

The proxy never changes a response unless --block names a kind of alert
that is open: then it answers 503 (X-Aigis-Blocked: true) until the alert
closes. --model with a signer re-verifies the served model's files
against their OMS signature at start, every --integrity-interval and on
every file change; --block integrity stops serving a tampered model.`,
		Example: `  aigis monitor proxy --upstream http://127.0.0.1:8000 --listen :8080
  aigis monitor proxy --upstream http://127.0.0.1:8000 --baseline baseline.jsonl \
      --webhook https://alerts.example/hook --block integrity,canary \
      --model ./served-model --public-key aigis.pub
  aigis monitor proxy --upstream http://127.0.0.1:9000 --protocol json \
      --input-path instances.0 --scores-path predictions.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(upstream)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return withCode(ExitError, fmt.Errorf("--upstream %q: want an http or https URL such as http://127.0.0.1:8000", upstream))
			}
			mcfg, err := df.config()
			if err != nil {
				return withCode(ExitError, err)
			}
			if learn < 20 || learn > 100_000 {
				return withCode(ExitError, fmt.Errorf("--learn %d: want 20 to 100,000 requests", learn))
			}
			var kinds []monitor.Kind
			for _, b := range block {
				k := monitor.Kind(strings.TrimSpace(b))
				switch k {
				case monitor.KindTrigger, monitor.KindSwap, monitor.KindCanary, monitor.KindIntegrity, monitor.KindDrift, monitor.KindLLM:
					kinds = append(kinds, k)
				default:
					return withCode(ExitError, fmt.Errorf("--block %q: want trigger, swap, canary, integrity, drift or llm", b))
				}
			}
			level := slog.LevelInfo
			if env.quiet {
				level = slog.LevelWarn
			} else if env.verbose > 0 {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			var canaries []proxy.Canary
			if canaryFile != "" {
				b, err := readBounded(canaryFile, 16<<20)
				if err == nil {
					canaries, err = proxy.LoadCanaries(b)
				}
				if err != nil {
					return withCode(ExitError, fmt.Errorf("--canary-file: %w", err))
				}
				if mcfg.Canaries == nil {
					mcfg.Canaries = map[string]monitor.Expect{}
				}
				for k, v := range proxy.Expectations(canaries) {
					mcfg.Canaries[k] = v
				}
			}
			pc := proxy.Config{Upstream: u, Protocol: protocol, Paths: paths, MaxCapture: maxCapture, QueueSize: queue,
				FingerprintHeaders: fpHeaders, Block: kinds, Learn: learn, Monitor: mcfg, UpstreamTimeout: upstreamTimeout,
				Logger: logger, LogContent: logContent}
			if baseline != "" {
				recs, err := monitor.LoadLog(baseline, 100_000)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("--baseline: %w", err))
				}
				pc.Baseline = recs
			}
			if logFile != "" {
				f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("--log: %w", err))
				}
				defer f.Close()
				pc.Log = f
			}
			var watch *integrity.Watch
			if model != "" {
				v, err := chooseVerifier(publicKey, certChain, identity, issuer, trustedRoot)
				if err != nil {
					return withCode(ExitError, err)
				}
				if err := checkTargets(model); err != nil {
					return err
				}
				sig := signature
				bundle := func() ([]byte, error) {
					if sig != "" {
						return readBundle(sig)
					}
					s, b, err := findBundle(env, model)
					sig = s
					return b, err
				}
				watch = &integrity.Watch{Model: model, Bundle: bundle, Verifier: v, Interval: integrityEvery,
					Options: verify.Options{Signature: signature}}
			} else if publicKey != "" || len(certChain) > 0 || identity != "" {
				return withCode(ExitError, errors.New("a signer was given without --model: name the served model's files to watch"))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if metricsAddr != "" {
				pc.Metrics = proxy.NewMetrics()
			}
			if otlp != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
				t, err := proxy.NewOTLPTracer(ctx, otlp, provider, u)
				if err != nil {
					return withCode(ExitError, fmt.Errorf("--otlp-endpoint: %w", err))
				}
				defer func() {
					sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					t.Shutdown(sctx)
				}()
				pc.Tracer = t
			}
			var hook *proxy.Webhook
			if webhook != "" {
				if wu, err := url.Parse(webhook); err != nil || (wu.Scheme != "http" && wu.Scheme != "https") {
					return withCode(ExitError, fmt.Errorf("--webhook %q: want an http or https URL", webhook))
				}
				hook = proxy.NewWebhook(webhook, logger)
				pc.OnAlert = hook.Send
				go hook.Run(ctx)
			}
			p, err := proxy.New(pc)
			if err != nil {
				return withCode(ExitError, err)
			}
			runCtx, cancelRun := context.WithCancel(context.Background())
			go p.Run(runCtx)
			if watch != nil {
				mcount := pc.Metrics
				watch.OnResult = func(res *verify.Result, err error, reason string) {
					switch {
					case err != nil:
						logger.Error("integrity check could not run", "reason", reason, "error", err)
						if mcount != nil {
							mcount.IntegrityResult("error")
						}
					case res.OK():
						logger.Info("integrity verified", "reason", reason, "model", model)
						if mcount != nil {
							mcount.IntegrityResult("verified")
						}
						p.SetIntegrity(nil)
					default:
						if mcount != nil {
							mcount.IntegrityResult("failed")
						}
						p.SetIntegrity(integrity.Alert(model, res))
					}
				}
				go func() {
					if err := watch.Run(ctx); err != nil {
						logger.Error("integrity watch stopped", "error", err)
					}
				}()
			}
			if len(canaries) > 0 {
				go p.RunCanaries(ctx, canaries, canaryEvery)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				cancelRun()
				return withCode(ExitError, fmt.Errorf("--listen: %w", err))
			}
			srv := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
				ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
			var msrv *http.Server
			if pc.Metrics != nil {
				mln, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					ln.Close()
					cancelRun()
					return withCode(ExitError, fmt.Errorf("--metrics-addr: %w", err))
				}
				mux := http.NewServeMux()
				mux.Handle("/metrics", pc.Metrics.Handler())
				msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
				go msrv.Serve(mln)
				logger.Info("metrics", "addr", mln.Addr().String(), "path", "/metrics")
			}
			logger.Info("proxying", "listen", ln.Addr().String(), "upstream", u.String(), "protocol", protocol)
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case <-ctx.Done():
			case err = <-errc:
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			if msrv != nil {
				msrv.Shutdown(sctx)
			}
			cancelRun()
			<-p.Done()
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return withCode(ExitError, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&upstream, "upstream", "", "the inference server, such as http://127.0.0.1:8000 (required)")
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&protocol, "protocol", "auto", "auto|openai|kserve|json")
	f.StringVar(&paths.Input, "input-path", "", "json protocol: path of the input in the request (gjson syntax)")
	f.StringVar(&paths.Label, "label-path", "", "json (or kserve) protocol: path of the predicted label in the response")
	f.StringVar(&paths.Scores, "scores-path", "", "json (or kserve) protocol: path of the scores (probabilities or logits) in the response")
	f.StringVar(&paths.Confidence, "confidence-path", "", "json protocol: path of the confidence in the response (default: the largest score)")
	f.StringVar(&paths.Model, "model-path", "", "json protocol: path of the model name in the response")
	f.StringVar(&baseline, "baseline", "", "traffic log the detectors learn from (default: the first --learn requests)")
	f.IntVar(&learn, "learn", 300, "requests to learn the baseline from when --baseline is not given")
	f.StringVar(&logFile, "log", "", "append every record to this traffic log (JSON Lines; input features, no generated text unless --log-content)")
	f.BoolVar(&logContent, "log-content", false, "also log generated text (content: only where you may keep it)")
	f.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9464", "address of the Prometheus /metrics endpoint (\"\" turns it off)")
	f.StringVar(&otlp, "otlp-endpoint", "", "OTLP/HTTP endpoint for spans, such as http://127.0.0.1:4318 (default $OTEL_EXPORTER_OTLP_ENDPOINT; none: no spans)")
	f.StringVar(&provider, "provider-name", "openai", "gen_ai.provider.name of the spans")
	f.StringVar(&webhook, "webhook", "", "POST every alert as JSON to this URL")
	f.StringSliceVar(&block, "block", nil, "answer 503 while an alert of these kinds is open: trigger,swap,canary,integrity,drift,llm (default: never)")
	f.StringSliceVar(&fpHeaders, "fingerprint-headers", nil, "response headers that fingerprint the responder (default Server, X-Model-Id, X-Model-Version, OpenAI-Model)")
	f.IntVar(&maxCapture, "max-capture", 1<<20, "bytes of each body kept for features (longer bodies pass through unrecorded)")
	f.IntVar(&queue, "queue", 8192, "exchanges waiting for the monitor (beyond: dropped and counted, never waited for)")
	f.DurationVar(&upstreamTimeout, "upstream-timeout", 0, "longest wait for the upstream's response headers (0: as long as the upstream takes)")
	f.StringVar(&canaryFile, "canary-file", "", "YAML list of canaries: name, path, body, expect {label, confidence, probs, model, text_sha256}")
	f.DurationVar(&canaryEvery, "canary-interval", time.Minute, "time between canary rounds")
	f.StringVar(&model, "model", "", "the served model's file or directory, re-verified against its OMS signature")
	f.StringVar(&signature, "signature", "", "the model's bundle (default: as aigis verify finds it)")
	f.StringVar(&publicKey, "public-key", "", "integrity: PEM public key of the signer")
	f.StringSliceVar(&certChain, "certificate-chain", nil, "integrity: PEM certificates to trust")
	f.StringVar(&identity, "identity", "", "integrity: Sigstore certificate identity")
	f.StringVar(&issuer, "identity-provider", "", "integrity: Sigstore OIDC issuer")
	f.StringVar(&trustedRoot, "trusted-root", "", "integrity: Sigstore trusted_root.json")
	f.DurationVar(&integrityEvery, "integrity-interval", 10*time.Minute, "time between scheduled re-verifications (file changes trigger one at once)")
	addDetectorFlags(cmd, &df)
	cmd.MarkFlagRequired("upstream")
	return cmd
}
