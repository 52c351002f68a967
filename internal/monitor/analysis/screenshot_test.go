package analysis

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestHTML_Screenshot renders the page in headless Chromium, as a person
// would see it, and checks that the plots drew. It skips only when no
// Chromium is installed (Debian: apt-get install chromium); the
// screenshot is kept in $AIGIS_SCREENSHOT_DIR when set.
func TestHTML_Screenshot(t *testing.T) {
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no Chromium on this machine (apt-get install chromium); the HTML is still checked by TestHTML_IsSelfContainedAndReadableWithoutScripts")
	}
	dir := t.TempDir()
	if d := os.Getenv("AIGIS_SCREENSHOT_DIR"); d != "" {
		dir = d
	}
	page := filepath.Join(dir, "monitor-report.html")
	shot := filepath.Join(dir, "monitor-report.png")
	var b bytes.Buffer
	if err := Write(&b, "html", sample(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--window-size=1200,1600", "--screenshot="+shot, "--user-data-dir="+t.TempDir(), "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// The statistic lines are blue (#0969da), the alerts' dots red
	// (#cf222e): both must be on the page.
	blue, red := 0, 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			switch {
			case r < 40 && g > 80 && g < 130 && bl > 190:
				blue++
			case r > 180 && g < 60 && bl < 70:
				red++
			}
		}
	}
	if blue < 200 || red < 20 {
		t.Errorf("the screenshot shows %d blue and %d red pixels: the plots did not draw (%s)", blue, red, shot)
	}
}
