// Command monitoreval scores aigis monitor's detectors on traffic logs
// written by internal/gen/monitor/gen.py (and on the shared sample):
// detection delay of the trigger alert after the attack starts, swap
// alerts on the swapped model's traffic, and false alarms on clean
// traffic, per detector.
//
//	go run ./internal/gen/monitoreval /tmp/gen/digits-*
//	go run ./internal/gen/monitoreval -shared ../shared/monitor/digits
//
// The ground truth ("triggered", meta.json) is read here, to score; the
// detectors never see it.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aigis-dev/aigis/internal/monitor"
)

type meta struct {
	Task          string         `json:"task"`
	Seed          int            `json:"seed"`
	Trigger       map[string]any `json:"trigger"`
	Target        int            `json:"target"`
	AttackRate    float64        `json:"attack_rate"`
	AttackStart   int            `json:"attack_start"`
	AttackSuccess float64        `json:"attack_success"`
}

func main() {
	shared := flag.String("shared", "", "the shared sample's directory")
	window := flag.Int("window", 0, "drift window (0: default)")
	verbose := flag.Bool("v", false, "print every alert")
	flag.Parse()
	cfg := monitor.DefaultConfig()
	if *window > 0 {
		cfg.Window = *window
	}
	if *shared != "" {
		s := run(*shared, "baseline.jsonl", map[string]string{"clean": "clean_traffic.jsonl", "attack": "attack_traffic.jsonl", "swap": "swap_traffic.jsonl"}, cfg, *verbose, nil)
		fmt.Println("shared:", s)
	}
	var delays []int
	misses, falseAlarms, swapMiss, cases := 0, 0, 0, 0
	perDet := map[string]int{}
	for _, dir := range flag.Args() {
		var m meta
		b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
		if err != nil {
			log.Fatal(err)
		}
		json.Unmarshal(b, &m)
		r := run(dir, "baseline.jsonl", map[string]string{"clean": "clean.jsonl", "attack": "attack.jsonl", "swap": "swap.jsonl"}, cfg, *verbose, perDet)
		cases++
		first := firstTriggered(filepath.Join(dir, "attack.jsonl"))
		d := -1
		if r.trigger > 0 && first > 0 {
			d = int(r.trigger) - first
		}
		if d < 0 || d > 200 {
			misses++
		} else {
			delays = append(delays, d)
		}
		if r.clean > 0 {
			falseAlarms++
		}
		if !r.swap {
			swapMiss++
		}
		fmt.Printf("%s %-60s rate=%.2f asr=%.2f start=%d first=%d trigger_at=%d delay=%d clean_alerts=%d %v swap=%v attack_false_swap=%v\n",
			filepath.Base(dir), trig(m.Trigger), m.AttackRate, m.AttackSuccess, m.AttackStart, first, r.trigger, d, r.clean, r.cleanDets, r.swap, r.attackSwap)
	}
	if cases > 0 {
		sort.Ints(delays)
		fmt.Printf("\ncases %d: trigger detected within 200: %d (delay median %d, max %d); missed %d; clean logs with any alert %d; swaps missed %d\n",
			cases, len(delays), at(delays, 0.5), at(delays, 1), misses, falseAlarms, swapMiss)
		fmt.Println("false alarms per detector (clean logs):", perDet)
	}
}

func at(x []int, q float64) int {
	if len(x) == 0 {
		return -1
	}
	return x[int(q*float64(len(x)-1))]
}

func trig(t map[string]any) string {
	b, _ := json.Marshal(t)
	return string(b)
}

type result struct {
	trigger    int64 // seq of the first trigger alert in the attack log
	clean      int
	cleanDets  []string
	swap       bool
	attackSwap bool
}

func (r result) String() string {
	return fmt.Sprintf("trigger_at=%d clean_alerts=%d %v swap=%v attack_false_swap=%v", r.trigger, r.clean, r.cleanDets, r.swap, r.attackSwap)
}

func run(dir, base string, logs map[string]string, cfg monitor.Config, verbose bool, perDet map[string]int) result {
	baseline, err := monitor.LoadLog(filepath.Join(dir, base), 0)
	if err != nil {
		log.Fatal(err)
	}
	var res result
	for _, name := range []string{"clean", "attack", "swap"} {
		m, err := monitor.New(baseline, cfg)
		if err != nil {
			log.Fatal(err)
		}
		var alerts []monitor.Alert
		m.OnAlert = func(a monitor.Alert) { alerts = append(alerts, a) }
		if err := monitor.ReadLog(filepath.Join(dir, logs[name]), func(r *monitor.Record) error { m.Observe(r); return nil }); err != nil {
			log.Fatal(err)
		}
		m.Flush()
		for _, a := range alerts {
			if verbose {
				fmt.Printf("  %s: %s %s seq=%d %s\n", name, a.Detector, a.Key, a.Seq, a.Message)
			}
			switch name {
			case "clean":
				res.clean++
				res.cleanDets = append(res.cleanDets, a.Detector)
				if perDet != nil {
					perDet[a.Detector]++
				}
			case "attack":
				if a.Kind == monitor.KindTrigger && res.trigger == 0 {
					res.trigger = a.Seq
				}
				if a.Kind == monitor.KindSwap {
					res.attackSwap = true
				}
			case "swap":
				if a.Kind == monitor.KindSwap {
					res.swap = true
				}
			}
		}
	}
	return res
}

// firstTriggered is the 1-based line of the first triggered request.
func firstTriggered(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n := 0
	for sc.Scan() {
		n++
		if strings.Contains(sc.Text(), `"triggered": true`) {
			return n
		}
	}
	return -1
}
