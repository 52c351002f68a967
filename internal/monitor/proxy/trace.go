package proxy

import (
	"context"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// Tracer writes one OpenTelemetry span per recorded exchange, with the
// GenAI semantic-convention attributes (gen_ai.operation.name,
// gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model,
// gen_ai.response.id, gen_ai.response.finish_reasons,
// gen_ai.usage.input_tokens, gen_ai.usage.output_tokens) and the server
// and HTTP ones. Spans are built on the monitor's goroutine with the
// exchange's own timestamps, so tracing costs the hot path nothing; an
// incoming traceparent makes the span its child (the proxy does not
// inject a new one into the upstream request: it never changes a
// request).
type Tracer struct {
	tp       trace.TracerProvider
	tr       trace.Tracer
	shutdown func(context.Context) error
	provider string
	host     string
	port     int
	prop     propagation.TraceContext
}

// NewOTLPTracer exports spans over OTLP/HTTP to endpoint (a URL such as
// http://collector:4318; "" reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT).
func NewOTLPTracer(ctx context.Context, endpoint, provider string, upstream *url.URL) (*Tracer, error) {
	var opts []otlptracehttp.Option
	if endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	res := sdkresource.NewSchemaless(attribute.String("service.name", "aigis-monitor"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t := NewTracer(tp, provider, upstream)
	t.shutdown = tp.Shutdown
	return t, nil
}

// NewTracer writes spans through tp.
func NewTracer(tp trace.TracerProvider, provider string, upstream *url.URL) *Tracer {
	t := &Tracer{tp: tp, tr: tp.Tracer("github.com/aigis-dev/aigis/internal/monitor/proxy"), provider: provider}
	if upstream != nil {
		t.host = upstream.Hostname()
		t.port, _ = strconv.Atoi(upstream.Port())
		if t.port == 0 {
			t.port = map[string]int{"http": 80, "https": 443}[upstream.Scheme]
		}
	}
	return t
}

// Shutdown flushes and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

type headerCarrier map[string]string

func (h headerCarrier) Get(k string) string { return h[k] }
func (h headerCarrier) Set(k, v string)     { h[k] = v }
func (h headerCarrier) Keys() []string {
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	return ks
}

func (t *Tracer) span(ex *exchange, rec *monitor.Record) {
	ctx := context.Background()
	if ex.traceparent != "" {
		ctx = t.prop.Extract(ctx, headerCarrier{"traceparent": ex.traceparent})
	}
	attrs := []attribute.KeyValue{
		attribute.String("server.address", t.host),
		attribute.Int("server.port", t.port),
		attribute.Int("http.response.status_code", ex.status),
		attribute.String("aigis.monitor.protocol", ex.proto),
	}
	name := "infer"
	model := rec.Model
	if g := ex.gen; g != nil {
		name = g.op
		if g.reqModel != "" {
			model = g.reqModel
		}
		attrs = append(attrs,
			attribute.String("gen_ai.operation.name", g.op),
			attribute.String("gen_ai.provider.name", t.provider),
			attribute.String("gen_ai.request.model", g.reqModel),
		)
		if g.respModel != "" {
			attrs = append(attrs, attribute.String("gen_ai.response.model", g.respModel))
		}
		if g.respID != "" {
			attrs = append(attrs, attribute.String("gen_ai.response.id", g.respID))
		}
		if len(g.finish) > 0 {
			attrs = append(attrs, attribute.StringSlice("gen_ai.response.finish_reasons", g.finish))
		}
		if g.inTok > 0 || g.outTok > 0 {
			attrs = append(attrs, attribute.Int64("gen_ai.usage.input_tokens", g.inTok), attribute.Int64("gen_ai.usage.output_tokens", g.outTok))
		}
	} else {
		if model != "" {
			attrs = append(attrs, attribute.String("gen_ai.request.model", model), attribute.String("gen_ai.response.model", model))
		}
		if rec.Label != "" {
			attrs = append(attrs, attribute.String("aigis.monitor.label", rec.Label))
		}
		if rec.Confidence == rec.Confidence {
			attrs = append(attrs, attribute.Float64("aigis.monitor.confidence", rec.Confidence))
		}
	}
	if rec.ID != "" {
		attrs = append(attrs, attribute.String("aigis.monitor.request_id", rec.ID))
	}
	if model != "" {
		name += " " + model
	}
	_, sp := t.tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(ex.start), trace.WithAttributes(attrs...))
	if ex.failed || ex.status >= 500 {
		sp.SetStatus(codes.Error, "upstream status "+strconv.Itoa(ex.status))
		sp.SetAttributes(attribute.String("error.type", strconv.Itoa(ex.status)))
	} else if rec.Incomplete {
		sp.SetStatus(codes.Error, "response incomplete")
		sp.SetAttributes(attribute.String("error.type", "incomplete_response"))
	}
	end := ex.end
	if end.IsZero() {
		end = ex.start
	}
	sp.End(trace.WithTimestamp(end))
}
