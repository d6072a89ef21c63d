package config

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Run reloads on SIGHUP (or whatever hup delivers) and when the files
// change, until ctx ends. It watches directories rather than files, so that
// it sees editors that save by renaming and Kubernetes, which swaps a ..data
// symlink. The directories are those of the main file and of the included
// files, those the config_files patterns name, and those that symlinked
// files point into. A directory that does not exist yet is watched through
// its nearest existing parent until it appears. A failed reload does not
// stop the watch.
func (r *Reloader) Run(ctx context.Context, hup <-chan os.Signal) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	fw := &fileWatch{r: r, w: w, failed: map[string]bool{}, ignored: map[string]bool{}}
	fw.update()

	var pending debounce
	if cfg := r.Current(); cfg == r.initial && !maps.Equal(stampFiles(r.opts.File, cfg), r.initialStamps) {
		r.logger.Info("Configuration files changed before the watch started, reloading")
		pending.add(time.Now(), r.opts.Debounce)
	}
	reload := func() {
		pending.stop()
		r.Reload() // the reload logs its own errors
		fw.update()
	}
	for {
		select {
		case <-ctx.Done():
			pending.stop()
			return nil
		case <-hup:
			r.logger.Info("Received SIGHUP, reloading the configuration")
			reload()
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("file watcher stopped")
			}
			if fw.handle(ev) {
				pending.add(time.Now(), r.opts.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("file watcher stopped")
			}
			r.logger.Warn("File watcher error", "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost, and any of them may have been a change.
				pending.add(time.Now(), r.opts.Debounce)
			}
		case <-pending.c():
			reload()
		}
	}
}

// stampFiles returns the versions of the main file and of the files the
// config_files patterns of cfg match now. A rewrite that keeps a file's
// size within the file system's timestamp granularity, a few milliseconds
// on Linux, leaves its stamp unchanged.
func stampFiles(mainFile string, cfg *Config) map[string]fileStamp {
	stamps := map[string]fileStamp{}
	add := func(file string) {
		if info, err := os.Stat(file); err == nil && !info.IsDir() {
			stamps[filepath.Clean(file)] = fileStamp{size: info.Size(), modTime: info.ModTime()}
		}
	}
	add(mainFile)
	for _, p := range cfg.ConfigFiles {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cfg.File), p)
		}
		matches, _ := filepath.Glob(p)
		for _, m := range matches {
			add(m)
		}
	}
	return stamps
}

// debounce delays a reload until file events stop for a while.
type debounce struct {
	timer *time.Timer
	first time.Time
}

// add notes an event at now: it starts the wait, or restarts it unless the
// first event of the burst is maxReloadDelay old.
func (d *debounce) add(now time.Time, wait time.Duration) {
	if d.timer == nil {
		d.first = now
		d.timer = time.NewTimer(wait)
		return
	}
	if now.Sub(d.first) < maxReloadDelay {
		d.timer.Reset(wait)
	}
}

// c returns the channel that fires when the wait is over, or nil when
// nothing waits.
func (d *debounce) c() <-chan time.Time {
	if d.timer == nil {
		return nil
	}
	return d.timer.C
}

func (d *debounce) stop() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// fileWatch keeps the watched directories in step with the running
// configuration.
type fileWatch struct {
	r   *Reloader
	w   *fsnotify.Watcher
	set *watchSet
	// failed holds the directories whose watch failed, so that each failure
	// is logged once.
	failed map[string]bool
	// ignored holds the files whose events were ignored, so that each is
	// logged once: a log file written into a watched directory would
	// otherwise cause a log line for every line logged about it.
	ignored map[string]bool
}

// maxIgnoredNames bounds fileWatch.ignored; past it, ignored events are no
// longer logged.
const maxIgnoredNames = 1000

// handle reports whether ev can change the configuration and so calls for a
// reload.
func (fw *fileWatch) handle(ev fsnotify.Event) bool {
	if fw.set.cfg != fw.r.Current() {
		// Reloaded through the HTTP API, maybe with other files.
		fw.update()
	}
	name := filepath.Clean(ev.Name)
	logger := fw.r.logger
	kind := fw.set.classify(name)
	if kind == irrelevant {
		if !fw.ignored[name] && len(fw.ignored) < maxIgnoredNames {
			fw.ignored[name] = true
			logger.Debug("Ignoring events of a file that is not part of the configuration", "file", name)
		}
		return false
	}
	if kind == configDir {
		// A directory that appeared or went away changes what to watch.
		// Files created in a new directory before its watch starts are
		// read by the reload that this event schedules.
		fw.update()
	}
	if fw.r.isOwnWrite(name) {
		logger.Debug("Ignoring file event of a change the admin API applied", "file", name, "op", ev.Op.String())
		return false
	}
	logger.Debug("Configuration file changed", "file", name, "op", ev.Op.String())
	return true
}

// update watches the directories of the running configuration and stops
// watching the others. It reads the watched directories from the watcher,
// because inotify drops the watch of a directory that is removed or renamed.
func (fw *fileWatch) update() {
	fw.set = newWatchSet(fw.r.opts.File, fw.r.Current())
	want := map[string]bool{}
	for d := range fw.set.dirs {
		want[existingAncestor(d)] = true
	}
	have := map[string]bool{}
	for _, d := range fw.w.WatchList() {
		have[filepath.Clean(d)] = true
	}
	for d := range want {
		if have[d] {
			continue
		}
		if err := fw.w.Add(d); err != nil {
			if !fw.failed[d] {
				fw.r.logger.Warn("Cannot watch configuration directory; use SIGHUP to reload", "dir", d, "err", err)
				fw.failed[d] = true
			}
			continue
		}
		delete(fw.failed, d)
		fw.r.logger.Debug("Watching configuration directory", "dir", d)
	}
	for d := range have {
		if !want[d] {
			fw.w.Remove(d)
		}
	}
}

// existingAncestor returns dir if it exists, or else its nearest parent
// that does.
func existingAncestor(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// watchSet is the set of paths that the file watcher follows for one
// running configuration.
type watchSet struct {
	cfg *Config
	// files holds the clean paths of the files read, and of the files that
	// symlinks among them point to.
	files map[string]bool
	// patterns holds the config_files patterns, absolute and clean.
	patterns []string
	// dirs holds the directories to watch.
	dirs map[string]bool
}

func newWatchSet(mainFile string, cfg *Config) *watchSet {
	s := &watchSet{cfg: cfg, files: map[string]bool{}, dirs: map[string]bool{}}
	s.addFile(mainFile)
	for _, f := range cfg.Files {
		s.addFile(f)
	}
	for _, p := range cfg.ConfigFiles {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cfg.File), p)
		}
		p = filepath.Clean(p)
		s.patterns = append(s.patterns, p)
		s.dirs[staticDir(p)] = true
		dirPattern := filepath.Dir(p)
		if !hasMeta(dirPattern) {
			continue
		}
		// A pattern such as companies/*/endpoints.yml reads files in
		// several directories.
		matches, _ := filepath.Glob(dirPattern)
		for _, m := range matches {
			if info, err := os.Stat(m); err == nil && info.IsDir() {
				s.dirs[m] = true
			}
		}
	}
	return s
}

// addFile adds file, and the file it points to if it is a symlink.
func (s *watchSet) addFile(file string) {
	file = filepath.Clean(file)
	s.files[file] = true
	s.dirs[filepath.Dir(file)] = true
	if target, err := filepath.EvalSymlinks(file); err == nil && target != file {
		s.files[target] = true
		s.dirs[filepath.Dir(target)] = true
	}
}

// Kinds of paths that file events name.
const (
	irrelevant = iota
	// configFile is a file that was read or that a config_files pattern
	// matches.
	configFile
	// configDir is a directory that a config_files pattern matches or
	// that leads to one, or a Kubernetes ..data entry, whose change can
	// change which directories to watch.
	configDir
)

// classify returns the kind of name, a clean path.
func (s *watchSet) classify(name string) int {
	if strings.HasPrefix(filepath.Base(name), "..") {
		return configDir
	}
	if s.files[name] {
		return configFile
	}
	if s.dirs[name] {
		return configDir
	}
	for _, p := range s.patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return configFile
		}
	}
	for _, p := range s.patterns {
		if ok, _ := filepath.Match(filepath.Dir(p), name); ok {
			return configDir
		}
		if strings.HasPrefix(staticDir(p), name+string(filepath.Separator)) {
			return configDir
		}
	}
	return irrelevant
}

// staticDir returns the longest directory prefix of pattern without
// wildcards.
func staticDir(pattern string) string {
	dir := filepath.Dir(pattern)
	for hasMeta(dir) {
		dir = filepath.Dir(dir)
	}
	return dir
}

func hasMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }
