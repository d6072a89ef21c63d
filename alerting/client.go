package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/prometheus/alertmanager/api/v2/models"
)

// client posts alerts to one Alertmanager's v2 API.
type client struct {
	endpoint *url.URL // .../api/v2/alerts
	http     *http.Client
	timeout  time.Duration
}

func newClient(base *url.URL, httpClient *http.Client, timeout time.Duration) *client {
	u := *base
	u.Path = path.Join("/", u.Path, "/api/v2/alerts")
	return &client{endpoint: &u, http: httpClient, timeout: timeout}
}

// sendError is a failed POST. Retryable errors (network, 5xx, 408, 429) are
// tried again; others mean Alertmanager rejected the payload.
type sendError struct {
	status    int    // 0 when no response arrived
	body      string // first bytes of the response body
	err       error
	retryable bool
}

func (e *sendError) Error() string {
	if e.status == 0 {
		return e.err.Error()
	}
	if e.body == "" {
		return fmt.Sprintf("Alertmanager answered %d", e.status)
	}
	return fmt.Sprintf("Alertmanager answered %d: %s", e.status, e.body)
}

func (e *sendError) Unwrap() error { return e.err }

// post sends one batch.
func (c *client) post(ctx context.Context, alerts models.PostableAlerts) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return &sendError{err: fmt.Errorf("encoding alerts: %w", err)}
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return &sendError{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may carry credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && parent.Err() == nil {
			err = fmt.Errorf("no answer within the timeout of %s: %w", c.timeout, err)
		}
		return &sendError{err: err, retryable: true}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return &sendError{
		status:    resp.StatusCode,
		body:      string(bytes.TrimSpace(snippet)),
		retryable: resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout,
	}
}
