package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"slices"
	"time"
)

// alertPlan is the plan of the alert scenario. After the warm-up the
// harness makes Paths fail, waits until Alertmanager holds an alert for
// each, makes them healthy again and waits until each alert is resolved.
type alertPlan struct {
	// Paths are the failing paths in increasing order, and FailShare the
	// fault share (faults.Fail) under which exactly these paths, of the
	// scenario's, fail.
	Paths     []int   `json:"paths"`
	FailShare float64 `json:"fail_share"`
	// Bound is the time within which each alert should reach
	// Alertmanager: the path's next probe comes within one interval, it
	// fails within the timeout, and the alert should follow within 1 s.
	Bound time.Duration `json:"bound_ns"`
}

// alertSlack is the part of alertPlan.Bound left for apiwatch to decide and
// deliver an alert after the failing probe.
const alertSlack = time.Second

// newAlertPlan returns the plan for sc with k failing paths, which must be
// at least 1 and at most half of the endpoints, so that most endpoints stay
// healthy as in a real outage.
func newAlertPlan(sc scenario, k int) (*alertPlan, error) {
	if k < 1 || k > sc.Endpoints/2 {
		return nil, fmt.Errorf("invalid -alert-paths %d for %d endpoints: want 1 to half the endpoint count",
			k, sc.Endpoints)
	}
	paths, share := failingPaths(k, sc.Endpoints)
	return &alertPlan{Paths: paths, FailShare: share, Bound: sc.Interval + sc.Timeout + alertSlack}, nil
}

// failingPaths returns the k paths of 0 … n-1 with the lowest pathFraction,
// in increasing order, and a fault share that makes exactly these fail: the
// midpoint between the k-th and the next lowest fraction. 0 < k < n.
func failingPaths(k, n int) ([]int, float64) {
	type path struct {
		index    int
		fraction float64
	}
	all := make([]path, n)
	for i := range all {
		all[i] = path{i, pathFraction(i)}
	}
	slices.SortFunc(all, func(a, b path) int { return cmp.Compare(a.fraction, b.fraction) })
	paths := make([]int, k)
	for i := range paths {
		paths[i] = all[i].index
	}
	slices.Sort(paths)
	return paths, (all[k-1].fraction + all[k].fraction) / 2
}

// alertRun carries out an alert plan on a running apiwatch.
type alertRun struct {
	e  *env
	sc scenario
	am *alertmanagerEnv
	// failAt and recoverAt are the times the target switched the paths to
	// failing and back to healthy.
	failAt, recoverAt time.Time
	// activeFiring and activeResolved count the failing paths' alerts that
	// Alertmanager's GET /api/v2/alerts listed after the alerts fired and
	// after they resolved.
	activeFiring, activeResolved int
}

// run switches the paths to failing at start, waits for their alerts,
// switches them back, waits for the resolved alerts, and returns at the end
// of the window, or later if the waits took longer. Each wait ends after
// twice the bound, so a missing alert cannot hold up the run.
func (r *alertRun) run(ctx context.Context, start time.Time) error {
	plan := r.sc.Alert
	names := endpointNamesOf(plan.Paths)
	var err error
	if r.failAt, err = r.e.target.switchFaults(faults{Fail: plan.FailShare}); err != nil {
		return err
	}
	log.Printf("alert: %d paths failing, waiting for their alerts", len(plan.Paths))
	if err := r.am.recorder.waitAll(ctx, names, true, r.failAt, r.failAt.Add(2*plan.Bound)); err != nil {
		return err
	}
	if r.activeFiring, err = r.am.countActive(r.e.client, names); err != nil {
		return err
	}

	if r.recoverAt, err = r.e.target.switchFaults(faults{}); err != nil {
		return err
	}
	log.Printf("alert: paths healthy again, waiting for the resolved alerts")
	if err := r.am.recorder.waitAll(ctx, names, false, r.recoverAt, r.recoverAt.Add(2*plan.Bound)); err != nil {
		return err
	}
	if r.activeResolved, err = r.am.countActive(r.e.client, names); err != nil {
		return err
	}
	return sleepUntil(ctx, start.Add(r.sc.Window))
}

// result computes the figures of the run from the target's hits and the
// alerts the recording proxy saw.
func (r *alertRun) result(hits [][]int64) *alertResult {
	plan := r.sc.Alert
	posts := r.am.recorder.snapshot()
	res := &alertResult{
		Paths:          len(plan.Paths),
		Timeout:        r.sc.Timeout,
		Bound:          plan.Bound,
		FailAt:         r.failAt,
		RecoverAt:      r.recoverAt,
		ActiveFiring:   r.activeFiring,
		ActiveResolved: r.activeResolved,
	}
	res.Firing = measureAlertLatency(plan.Paths, hits, posts, true, r.failAt, plan.Bound)
	res.Resolved = measureAlertLatency(plan.Paths, hits, posts, false, r.recoverAt, plan.Bound)
	res.Posts, res.RejectedPosts, res.BeforeSwitch, res.Unexpected = countPosts(posts, plan.Paths, r.failAt)
	return res
}

// endpointNamesOf returns the endpoint names of paths, which are the same
// as the paths' indices in the generated configuration.
func endpointNamesOf(paths []int) []string {
	names := make([]string, len(paths))
	for i, p := range paths {
		_, names[i] = endpointNames(p)
	}
	return names
}
