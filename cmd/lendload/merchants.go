package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lendhq/lend/internal/loadgen"
)

const (
	// maxMerchants bounds -merchants: one request body each (kept in
	// memory), twice the API's credit-line cache (api.MaxCachedLines, 50,000)
	// so a run can overflow it.
	maxMerchants = loadgen.MaxBodies
	// linesPageSize is the page asked of GET /v1/credit-lines (the API's most).
	linesPageSize = 500
	// maxLinesPageBytes bounds one page of the listing read (500 lines of a
	// few hundred bytes each).
	maxLinesPageBytes = 16 << 20
)

// manyMerchants makes c a decision run over the first o.merchants merchants
// with an active line, request i applying for merchant i mod o.merchants with
// the service key.
func (o *options) manyMerchants(ctx context.Context, c loadgen.Config, keyPrefix string) (loadgen.Config, error) {
	if o.officerKey == "" || o.serviceKey == "" {
		return c, errors.New("-merchants > 1 needs an officer key to list the credit lines and a service key to apply for them (-officer-key and -service-key, or LEND_OFFICER_KEY= and LEND_SERVICE_KEY= lines in -keys; lend keys create --role service)")
	}
	ids, err := o.activeMerchants(ctx, o.merchants)
	if err != nil {
		return c, err
	}
	c.Bodies = make([][]byte, len(ids))
	for i, id := range ids {
		c.Bodies[i], _ = json.Marshal(map[string]any{"merchant_id": id, "amount_minor": o.amountMinor, "term_months": o.termMths})
	}
	c.Method, c.Path = "POST", "/v1/applications"
	c.Header = []string{"Authorization: Bearer " + o.serviceKey, "Content-Type: application/json"}
	c.KeyHeader, c.KeyPrefix = "Idempotency-Key", keyPrefix
	return c, nil
}

// linesPage is the part of a GET /v1/credit-lines page lendload reads.
type linesPage struct {
	Items []struct {
		MerchantID string `json:"merchant_id"`
		Status     string `json:"status"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// activeMerchants pages through the active credit lines (the API lists them
// by merchant id) until it has the first n merchant ids; fewer is an error.
func (o *options) activeMerchants(ctx context.Context, n int) ([]string, error) {
	ids := make([]string, 0, n)
	cursor := ""
	for len(ids) < n {
		page, err := o.linesPage(ctx, cursor)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			if it.Status != "active" || (len(ids) > 0 && it.MerchantID <= ids[len(ids)-1]) {
				return nil, fmt.Errorf("GET /v1/credit-lines?status=active: line of %q (%s) is not an active line in merchant id order", it.MerchantID, it.Status)
			}
			if len(ids) < n {
				ids = append(ids, it.MerchantID)
			}
		}
		if page.NextCursor == nil || len(page.Items) == 0 {
			break
		}
		cursor = *page.NextCursor
	}
	if len(ids) < n {
		return nil, fmt.Errorf("-merchants %d: only %d merchants hold an active credit line (a bigger demo: lend serve --demo --demo-merchants M on a new data directory)", n, len(ids))
	}
	return ids, nil
}

// linesPage reads one page of active credit lines with the officer key.
func (o *options) linesPage(ctx context.Context, cursor string) (linesPage, error) {
	var page linesPage
	q := url.Values{"status": {"active"}, "limit": {fmt.Sprint(linesPageSize)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(o.url, "/")+"/v1/credit-lines?"+q.Encode(), nil)
	if err != nil {
		return page, err
	}
	req.Header.Set("Authorization", "Bearer "+o.officerKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return page, err
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, maxLinesPageBytes)
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(body, 1<<10))
		return page, fmt.Errorf("GET /v1/credit-lines: %d %s", res.StatusCode, b)
	}
	if err := json.NewDecoder(body).Decode(&page); err != nil {
		return page, fmt.Errorf("GET /v1/credit-lines: %w", err)
	}
	return page, nil
}
