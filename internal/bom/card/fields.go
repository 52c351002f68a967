package card

import (
	"regexp"
	"strings"
	"sync"
)

// str is a scalar value as text; "" for anything else.
func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// strs is a string or a list of strings; empty entries are dropped.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		if s := strings.TrimSpace(x); s != "" {
			return []string{s}
		}
	case []any:
		var out []string
		for _, e := range x {
			if s := str(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

func (c *Card) fromMeta() {
	m := c.Meta
	c.License = strs(m["license"])
	c.LicenseName = str(m["license_name"])
	c.LicenseLink = str(m["license_link"])
	c.Datasets = strs(m["datasets"])
	c.BaseModels = strs(m["base_model"])
	c.BaseModelRelation = str(m["base_model_relation"])
	c.PipelineTag = str(m["pipeline_tag"])
	c.LibraryName = str(m["library_name"])
	c.Languages = strs(m["language"])
	c.Tags = strs(m["tags"])
	c.Metrics = strs(m["metrics"])
	c.PrettyName = str(m["pretty_name"])
	c.TaskCategories = strs(m["task_categories"])
	c.SizeCategories = strs(m["size_categories"])
	c.SourceDatasets = strs(m["source_datasets"])
	c.readModelIndex(m["model-index"])
	c.readCO2(m["co2_eq_emissions"])
}

func (c *Card) readModelIndex(v any) {
	for _, mi := range listOf(v) {
		mm := mapOf(mi)
		if mm == nil {
			continue
		}
		if c.ModelName == "" {
			c.ModelName = str(mm["name"])
		}
		for _, r := range listOf(mm["results"]) {
			rm := mapOf(r)
			task, ds := mapOf(rm["task"]), mapOf(rm["dataset"])
			base := Result{
				TaskType: str(task["type"]), TaskName: str(task["name"]),
				DatasetName: str(ds["name"]), DatasetType: str(ds["type"]), DatasetSplit: str(ds["split"]),
			}
			for _, met := range listOf(rm["metrics"]) {
				mt := mapOf(met)
				if mt == nil {
					continue
				}
				res := base
				res.MetricType, res.MetricName = str(mt["type"]), str(mt["name"])
				res.Value = str(mt["value"])
				if res.Value == "" && res.MetricType == "" {
					continue
				}
				c.Results = append(c.Results, res)
				if len(c.Results) >= maxEntries {
					c.warnf("model-index has more than %d metrics; the rest are left out", maxEntries)
					return
				}
			}
		}
	}
}

func (c *Card) readCO2(v any) {
	switch x := v.(type) {
	case string:
		if x != "" {
			c.CO2 = &CO2{Emissions: str(x)}
		}
	case map[string]any:
		co := &CO2{Emissions: str(x["emissions"]), Source: str(x["source"]), TrainingType: str(x["training_type"]),
			GeographicalLocation: str(x["geographical_location"]), HardwareUsed: str(x["hardware_used"])}
		if *co != (CO2{}) {
			c.CO2 = co
		}
	}
}

// section is one Markdown heading and the text under it, up to the next
// heading of any level.
type section struct {
	level int
	title string
	text  []string
}

var heading = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`) })

func sections(body string) (title string, out []section) {
	cur := section{}
	inFence := false
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimRight(line, "\r")
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			inFence = !inFence
		}
		if !inFence {
			if m := heading().FindStringSubmatch(line); m != nil {
				out = append(out, cur)
				cur = section{level: len(m[1]), title: m[2]}
				if cur.level == 1 && title == "" {
					title = m[2]
				}
				continue
			}
		}
		cur.text = append(cur.text, line)
	}
	return title, append(out, cur)
}

var listItem = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*[-*+]\s+(.*)$`) })

func (c *Card) readBody(body string) {
	title, secs := sections(body)
	c.Title = clip(title, 256)
	for i, s := range secs {
		t := strings.ToLower(s.title)
		switch {
		case strings.Contains(t, "training hyperparameters"):
			if len(c.TrainingHyperparameters) == 0 {
				c.TrainingHyperparameters = keyValues(s.text)
			}
		case strings.Contains(t, "framework versions"):
			if len(c.FrameworkVersions) == 0 {
				c.FrameworkVersions = frameworkVersions(s.text)
			}
		case strings.Contains(t, "limitations") || strings.Contains(t, "bias, risks"):
			if c.Limitations == "" {
				c.Limitations = prose(subtree(secs, i))
			}
		case t == "uses" || strings.Contains(t, "intended use") || t == "direct use":
			if c.IntendedUses == "" {
				c.IntendedUses = prose(subtree(secs, i))
			}
		case strings.Contains(t, "model description") || strings.Contains(t, "dataset description") || strings.Contains(t, "dataset summary"):
			if c.Description == "" {
				c.Description = prose(subtree(secs, i))
			}
		case i == 1 && s.level == 1 && c.Description == "":
			// The paragraph right under the title.
			c.Description = prose(firstParagraph(s.text))
		}
	}
}

// subtree is a section's text plus the text of its subsections.
func subtree(secs []section, i int) []string {
	out := append([]string(nil), secs[i].text...)
	for _, s := range secs[i+1:] {
		if s.level <= secs[i].level {
			break
		}
		out = append(out, s.text...)
	}
	return out
}

func firstParagraph(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			if len(out) > 0 {
				break
			}
			continue
		}
		out = append(out, l)
	}
	return out
}

var (
	htmlComment = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)<!--.*?-->`) })
	placeholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\[?more information needed\]?\.?`) })
	spaces      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\s+`) })
)

// prose is a section's text as one line, without comments and template
// placeholders; "" when nothing real is left.
func prose(lines []string) string {
	text := htmlComment().ReplaceAllString(strings.Join(lines, "\n"), " ")
	var kept []string
	for _, l := range strings.Split(text, "\n") {
		if placeholder().MatchString(l) {
			continue // a template line nobody filled in
		}
		kept = append(kept, l)
	}
	s := strings.TrimSpace(spaces().ReplaceAllString(strings.Join(kept, " "), " "))
	if len(strings.Trim(s, " -*.:")) < 3 {
		return ""
	}
	return clip(s, maxText)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// keyValues reads "- key: value" items (the Trainer's format).
func keyValues(lines []string) []KV {
	var out []KV
	for _, l := range lines {
		m := listItem().FindStringSubmatch(l)
		if m == nil {
			continue
		}
		item := strings.ReplaceAll(htmlComment().ReplaceAllString(m[1], ""), "**", "")
		if placeholder().MatchString(item) {
			continue
		}
		k, v, ok := strings.Cut(item, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" || len(k) > 128 || strings.Contains(k, " ") && len(strings.Fields(k)) > 4 {
			continue
		}
		out = append(out, KV{Key: clip(k, 128), Value: clip(v, 1024)})
		if len(out) == maxEntries {
			break
		}
	}
	return out
}

// frameworkVersions reads "- Transformers 4.38.2" items.
func frameworkVersions(lines []string) []KV {
	var out []KV
	for _, l := range lines {
		m := listItem().FindStringSubmatch(l)
		if m == nil {
			continue
		}
		f := strings.Fields(m[1])
		if len(f) != 2 || len(f[0]) > 64 || len(f[1]) > 64 {
			continue
		}
		out = append(out, KV{Key: f[0], Value: f[1]})
		if len(out) == maxEntries {
			break
		}
	}
	return out
}
