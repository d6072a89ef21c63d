package config

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultReloadDebounce is how long the file watcher waits for a burst of
// file events (an editor's save, a Kubernetes ConfigMap update) to end
// before it reloads.
const DefaultReloadDebounce = 500 * time.Millisecond

// maxReloadDelay bounds how long a steady stream of file events can hold a
// reload back: the reload starts at most maxReloadDelay plus the debounce
// after the first event of the stream.
const maxReloadDelay = 5 * time.Second

// ReloaderOptions configures a Reloader.
type ReloaderOptions struct {
	// File is the main configuration file.
	File string
	// Apply makes cfg the running configuration. An error leaves the
	// previous configuration running and fails the reload.
	Apply      func(cfg *Config) error
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Debounce overrides DefaultReloadDebounce.
	Debounce time.Duration
	// LoadOptions are passed to Load on every reload. With a Cache, a
	// reload parses only the companies whose text changed; the Reloader
	// updates the cache after each applied configuration, and the caller
	// after the initial one.
	LoadOptions LoadOptions
}

// Reloader keeps the running configuration in step with its files. A
// reload loads and validates every file first. A configuration with any
// problem is rejected as a whole, its problems are logged with file, line
// and field, and the previous configuration keeps running. Reloads are
// serialized.
type Reloader struct {
	opts   ReloaderOptions
	logger *slog.Logger

	// mu is held for the whole of a reload. current is read without it, so
	// that the file watcher and the HTTP handlers never wait for a reload.
	mu      sync.Mutex
	current atomic.Pointer[Config]
	// adminMu serializes the company file operations, each of which checks
	// and writes a file, then reloads.
	adminMu sync.Mutex

	// written holds, by clean path, the content the admin API last gave
	// each company file, so that the watcher skips the events of a change
	// that the admin API has already applied.
	writtenMu sync.Mutex
	written   map[string]fileContent

	// initial is the configuration NewReloader was given, and
	// initialStamps the versions of its files then, so that Run can tell
	// whether they changed before it started watching them.
	initial       *Config
	initialStamps map[string]fileStamp

	success     prometheus.Gauge
	successTime prometheus.Gauge
	reloads     *prometheus.CounterVec
}

// fileStamp identifies a version of a file without reading it.
type fileStamp struct {
	size    int64
	modTime time.Time
}

// fileContent is the content of a file, or its absence. A directory has
// no content: dir marks one that the admin API created.
type fileContent struct {
	data   []byte
	exists bool
	dir    bool
}

// NewReloader returns a Reloader whose running configuration is initial,
// already applied by the caller. Call it right after loading initial: Run
// reloads at its start if the files changed after this call.
func NewReloader(opts ReloaderOptions, initial *Config) (*Reloader, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultReloadDebounce
	}
	removeStaleTempFiles(filepath.Join(filepath.Dir(opts.File), CompanyDir), opts.Logger)
	r := &Reloader{
		opts:    opts,
		logger:  opts.Logger,
		written: map[string]fileContent{},
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiwatch_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiwatch_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiwatch_config_reloads_total",
			Help: "Configuration reload attempts, by result.",
		}, []string{"result"}),
	}
	r.current.Store(initial)
	r.initial = initial
	r.initialStamps = stampFiles(opts.File, initial)
	r.reloads.WithLabelValues("success")
	r.reloads.WithLabelValues("failure")
	r.success.Set(1)
	r.successTime.SetToCurrentTime()
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{r.success, r.successTime, r.reloads} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// Current returns the running configuration. It does not wait for a reload
// in progress.
func (r *Reloader) Current() *Config {
	return r.current.Load()
}

// Reload loads the configuration files and applies them. It returns the
// problems found, as an Errors value, or the error of Apply.
func (r *Reloader) Reload() error {
	return r.reload(r.opts.LoadOptions)
}

// ReloadWith is Reload with other load options, such as an overlay of a
// file about to be written. Apply still sees the result.
func (r *Reloader) ReloadWith(opts LoadOptions) error {
	if opts.LookupEnv == nil {
		opts.LookupEnv = r.opts.LoadOptions.LookupEnv
	}
	if opts.Cache == nil {
		opts.Cache = r.opts.LoadOptions.Cache
	}
	return r.reload(opts)
}

// Check loads the configuration with opts and reports its problems without
// applying it.
func (r *Reloader) Check(opts LoadOptions) error {
	if opts.LookupEnv == nil {
		opts.LookupEnv = r.opts.LoadOptions.LookupEnv
	}
	if opts.Cache == nil {
		opts.Cache = r.opts.LoadOptions.Cache
	}
	_, err := Load(r.opts.File, opts)
	return err
}

func (r *Reloader) reload(opts LoadOptions) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	cfg, err := r.load(opts)
	if err == nil {
		err = r.opts.Apply(cfg)
	}
	if err != nil {
		r.success.Set(0)
		r.reloads.WithLabelValues("failure").Inc()
		var errs Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				r.logger.Error("Invalid configuration, keeping the previous one", "err", e)
			}
		} else {
			r.logger.Error("Reloading the configuration failed, keeping the previous one", "err", err)
		}
		return err
	}
	r.current.Store(cfg)
	opts.Cache.Update(cfg)
	r.success.Set(1)
	r.successTime.SetToCurrentTime()
	r.reloads.WithLabelValues("success").Inc()
	r.logger.Info("Configuration reloaded", "file", r.opts.File, "files", len(cfg.Files),
		"companies", len(cfg.Companies), "duration", time.Since(start))
	return nil
}

// load is Load with the reloader's file.
func (r *Reloader) load(opts LoadOptions) (*Config, error) {
	return Load(r.opts.File, opts)
}

// noteWrite records the content that the admin API is about to give file,
// or its removal when exists is false.
func (r *Reloader) noteWrite(file string, c fileContent) {
	r.writtenMu.Lock()
	defer r.writtenMu.Unlock()
	r.written[filepath.Clean(file)] = c
}

// isOwnWrite reports whether file contains what the admin API last wrote
// to it, so that its file event needs no reload. Once the file differs, it
// is someone else's change, and the record is dropped: changing the file
// back by hand later is a change too. A directory the admin API created
// counts once, for the event of its creation, because when it is removed
// and created again, files may have come with it.
func (r *Reloader) isOwnWrite(file string) bool {
	r.writtenMu.Lock()
	want, ok := r.written[file]
	r.writtenMu.Unlock()
	if !ok {
		return false
	}
	var same bool
	switch {
	case want.dir:
		info, err := os.Stat(file)
		same = err == nil && info.IsDir()
	case !want.exists:
		_, err := os.Lstat(file)
		same = errors.Is(err, fs.ErrNotExist)
	default:
		data, err := os.ReadFile(file)
		same = err == nil && bytes.Equal(data, want.data)
	}
	if want.dir || !same {
		r.writtenMu.Lock()
		// Unless the admin API wrote it again meanwhile.
		if current, ok := r.written[file]; ok && current.dir == want.dir && current.exists == want.exists &&
			bytes.Equal(current.data, want.data) {
			delete(r.written, file)
		}
		r.writtenMu.Unlock()
	}
	return same
}

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

// staleTempAge is how old a temporary file of an atomic write must be before
// it counts as left behind by a crash rather than being written now.
const staleTempAge = time.Minute

// removeStaleTempFiles deletes the temporary files that atomic writes of the
// admin API leave in dir when the process dies between creating and
// renaming them.
func removeStaleTempFiles(dir string, logger *slog.Logger) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".*.yml.tmp*"))
	for _, m := range matches {
		info, err := os.Lstat(m)
		if err != nil || !info.Mode().IsRegular() || time.Since(info.ModTime()) < staleTempAge {
			continue
		}
		if err := os.Remove(m); err == nil {
			logger.Info("Removed a temporary file left by an interrupted write", "file", m)
		}
	}
}
