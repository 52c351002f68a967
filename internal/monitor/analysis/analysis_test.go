package analysis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/aigis-dev/aigis/internal/monitor"
	"github.com/aigis-dev/aigis/internal/testutil"
)

// firstTriggered reads the shared sample's ground truth, to score.
func firstTriggered(t *testing.T, path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var n int64
	for sc.Scan() {
		n++
		if strings.Contains(sc.Text(), `"triggered": true`) {
			return n
		}
	}
	t.Fatal("no triggered request")
	return 0
}

func analyze(t *testing.T, baseline string, traffic ...string) *Result {
	t.Helper()
	r, err := Analyze(context.Background(), baseline, traffic, Options{Tool: "aigis", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func kinds(r *Result) map[monitor.Kind][]monitor.Alert {
	out := map[monitor.Kind][]monitor.Alert{}
	for _, a := range r.Alerts {
		out[a.Kind] = append(out[a.Kind], a)
	}
	return out
}

// The shared sample: a real backdoored digits classifier.
func TestSharedSample(t *testing.T) {
	dir := testutil.Shared(t, "monitor", "digits")
	base := filepath.Join(dir, "baseline.jsonl")

	clean := analyze(t, base, filepath.Join(dir, "clean_traffic.jsonl"))
	if len(clean.Alerts) > 0 {
		t.Errorf("clean traffic: %d alert(s), first: %s", len(clean.Alerts), clean.Alerts[0].Message)
	}

	attackPath := filepath.Join(dir, "attack_traffic.jsonl")
	attack := kinds(analyze(t, base, attackPath))
	first := firstTriggered(t, attackPath)
	if len(attack[monitor.KindTrigger]) == 0 {
		t.Fatal("attack traffic: no trigger alert")
	}
	a := attack[monitor.KindTrigger][0]
	if delay := a.Seq - first; delay < 0 || delay > 200 {
		t.Errorf("trigger alert at request %d, %d after the attack began", a.Seq, delay)
	}
	if a.Key != "0" {
		t.Errorf("trigger alert names label %s, want the target 0", a.Key)
	}
	if len(attack[monitor.KindSwap]) > 0 {
		t.Errorf("attack traffic raised a swap alert: %s", attack[monitor.KindSwap][0].Message)
	}

	swap := kinds(analyze(t, base, filepath.Join(dir, "swap_traffic.jsonl")))
	if len(swap[monitor.KindSwap]) == 0 {
		t.Error("swap traffic: no swap alert")
	}
	if len(swap[monitor.KindTrigger]) > 0 {
		t.Errorf("swap traffic raised a trigger alert: %s", swap[monitor.KindTrigger][0].Message)
	}
}

// sample is a small analysis with alerts, for the encoders.
func sample(t *testing.T) *Result {
	dir := t.TempDir()
	write := func(name string, n int, shift bool) string {
		var b bytes.Buffer
		for i := 0; i < n; i++ {
			label, conf := i%3, 0.99
			if shift && i%2 == 0 {
				label, conf = 0, 0.6
			}
			probs := []float64{0.005, 0.005, 0.005}
			probs[label] = conf
			line, _ := json.Marshal(map[string]any{"id": "req-" + name + "-" + string(rune('a'+i%26)), "model": "m", "label": label, "confidence": conf, "probs": probs, "output": "<script>alert(1)</script> see https://evil.example"})
			b.Write(line)
			b.WriteByte('\n')
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return analyze(t, write("base.jsonl", 300, false), write("traffic.jsonl", 400, true))
}

func TestHTML_IsSelfContainedAndReadableWithoutScripts(t *testing.T) {
	r := sample(t)
	if len(r.Alerts) == 0 {
		t.Fatal("the sample raised no alert")
	}
	var b bytes.Buffer
	if err := Write(&b, "html", r); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	svgs, rows := 0, 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "iframe", "object", "embed", "img", "link":
				t.Errorf("the page has a <%s> element", n.Data)
			case "svg":
				svgs++
			case "tr":
				rows++
			}
			for _, a := range n.Attr {
				if (a.Key == "src" || a.Key == "href") || strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s %s=%q>: no external resource or handler belongs in the page", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if svgs != len(r.Detectors) {
		t.Errorf("%d plots for %d detectors", svgs, len(r.Detectors))
	}
	if rows < len(r.Alerts)+1 {
		t.Errorf("%d table rows for %d alerts", rows, len(r.Alerts))
	}
	s := b.String()
	for _, want := range []string{"label-drift", "−log10 p", "threshold", r.Alerts[0].Message} {
		if !strings.Contains(s, html.EscapeString(want)) && !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(s, "evil.example") || strings.Contains(s, "<script>alert") {
		t.Error("the page quotes response content")
	}
}

func TestJSON_CarriesStatisticThresholdAndPValue(t *testing.T) {
	r := sample(t)
	var b bytes.Buffer
	if err := Write(&b, "json", r); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Alerts []struct {
			Detector  string   `json:"detector"`
			Statistic string   `json:"statistic"`
			Value     *float64 `json:"value"`
			Threshold *float64 `json:"threshold"`
			P         *float64 `json:"p_value"`
			Evidence  struct {
				RequestIDs []string `json:"request_ids"`
			} `json:"evidence"`
		} `json:"alerts"`
		Detectors []struct {
			Name   string            `json:"name"`
			Points []json.RawMessage `json:"points"`
		} `json:"detectors"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if len(got.Alerts) == 0 || len(got.Detectors) == 0 {
		t.Fatal("no alerts or detectors")
	}
	for _, a := range got.Alerts {
		if a.Statistic == "" || a.Value == nil || a.Threshold == nil || len(a.Evidence.RequestIDs) == 0 {
			t.Errorf("alert %+v lacks its statistic, threshold or evidence", a)
		}
		if a.Detector == "label-drift" && a.P == nil {
			t.Error("label-drift alert without a p-value")
		}
	}
	if strings.Contains(b.String(), "evil.example") {
		t.Error("the JSON quotes response content")
	}
}

func TestTable_ListsDetectorsAndAlerts(t *testing.T) {
	r := sample(t)
	var b bytes.Buffer
	if err := Write(&b, "table", r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DETECTOR", "label-drift", "P-VALUE", "alert(s)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
