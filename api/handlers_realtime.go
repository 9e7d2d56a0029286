package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/realtime"
)

// NDJSONContentType is the media type of a batch sent one JSON object a line.
const NDJSONContentType = "application/x-ndjson"

// RealtimeIngester stores a batch of a merchant's transactions and re-decides
// its credit line, returning the JSON answer (identical on every replay of the
// key). realtime.Service implements it; when Config.Risk also implements it,
// the server serves POST /v1/merchants/{id}/transactions with it.
type RealtimeIngester interface {
	Ingest(ctx context.Context, merchantID, key, requestHash string, txs []realtime.Transaction) ([]byte, error)
}

// ingester returns the configured ingester, if any.
func (s *Server) ingester() RealtimeIngester {
	in, _ := s.cfg.Risk.(RealtimeIngester)
	return in
}

// ingestTransactions: POST /v1/merchants/{merchant_id}/transactions
// (services). The batch is a JSON array, or NDJSON with Content-Type
// application/x-ndjson; its key, hash and rows are stored in one transaction,
// so a replay returns the first answer and the same key with another batch
// is 422.
func (s *Server) ingestTransactions(c echo.Context) error {
	in := s.ingester()
	if in == nil {
		return lend.Errorf(lend.ENOTIMPL, "real-time ingestion is not configured on this server")
	}
	m := c.Param("merchant_id")
	if len(m) > MaxMerchantIDLen {
		return lend.FieldErrorf("merchant_id", "longer than %d characters", MaxMerchantIDLen)
	}
	r := c.Request()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return lend.Errorf(lend.ETOOLARGE, "request body exceeds %d bytes: send smaller batches", mbe.Limit)
		}
		return lend.Wrap(lend.EINVALID, err, "reading request body")
	}
	ndjson := strings.HasPrefix(strings.ToLower(r.Header.Get(echo.HeaderContentType)), NDJSONContentType)
	txs, err := decodeBatch(body, ndjson)
	if err != nil {
		return err
	}
	h := auth.HashRequest(r.Method, r.URL.RequestURI(), body)
	out, err := in.Ingest(r.Context(), m, storeCmd(c, m).IdempotencyKey, hex.EncodeToString(h[:]), txs)
	if err != nil {
		return storeIdemError(err)
	}
	s.lines.drop(m) // the ingest may have re-decided the line
	return writeBlob(c, http.StatusCreated, echo.MIMEApplicationJSON, out)
}

// txIn is one decoded row; amount may be a JSON string or number, kept as text.
type txIn struct {
	MerchantID string          `json:"merchant_id"`
	TS         string          `json:"ts"`
	Amount     json.RawMessage `json:"amount"`
	Type       string          `json:"type"`
	BuyerID    string          `json:"buyer_id"`
	Currency   string          `json:"currency"`
}

// decodeBatch reads a JSON array or NDJSON into rows, naming the row of any
// malformed element. Unknown fields are ignored (SPEC §2.1: extra columns).
func decodeBatch(body []byte, ndjson bool) ([]realtime.Transaction, error) {
	var raws []json.RawMessage
	if ndjson {
		for i, line := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if len(raws) == realtime.MaxBatchRows {
				return nil, lend.Errorf(lend.ETOOLARGE, "more than %d transactions in one batch", realtime.MaxBatchRows)
			}
			if !json.Valid(line) {
				return nil, lend.FieldErrorf("line "+strconv.Itoa(i+1), "not a JSON object")
			}
			raws = append(raws, line)
		}
	} else if err := json.Unmarshal(body, &raws); err != nil {
		return nil, &lend.Error{Code: lend.EINVALID, Field: "body", Message: "body: a JSON array of transactions is required (or NDJSON with Content-Type " + NDJSONContentType + ")"}
	}
	if len(raws) == 0 {
		return nil, lend.FieldErrorf("transactions", "the batch is empty")
	}
	if len(raws) > realtime.MaxBatchRows {
		return nil, lend.Errorf(lend.ETOOLARGE, "batch of %d transactions exceeds %d", len(raws), realtime.MaxBatchRows)
	}
	out := make([]realtime.Transaction, len(raws))
	for i, raw := range raws {
		var t txIn
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, lend.FieldErrorf("transactions["+strconv.Itoa(i)+"]", "not a transaction object: %s", jsonProblem(err))
		}
		amount, ok := amountText(t.Amount)
		if !ok {
			return nil, lend.FieldErrorf("transactions["+strconv.Itoa(i)+"].amount", "must be a decimal number or string")
		}
		out[i] = realtime.Transaction{MerchantID: t.MerchantID, TS: t.TS, Amount: amount, Type: t.Type, BuyerID: t.BuyerID, Currency: t.Currency}
	}
	return out, nil
}

// amountText is a JSON amount as decimal text ("" when absent or null).
func amountText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", true
	case raw[0] == '"':
		var s string
		return s, json.Unmarshal(raw, &s) == nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		return string(raw), true
	}
	return "", false
}

// jsonProblem describes a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field + " has the wrong type"
	}
	return "malformed JSON"
}

// creditLineHistoryPage is a page of a credit line's audit trail.
type creditLineHistoryPage struct {
	Items      []loans.CreditLineChange `json:"items"`
	NextCursor *string                  `json:"next_cursor"`
}

// getCreditLineHistory: GET /v1/merchants/{merchant_id}/credit-line/history
// (the merchant itself, officers, services), newest first, paged.
func (s *Server) getCreditLineHistory(c echo.Context) error {
	m := c.Param("merchant_id")
	ctx := c.Request().Context()
	if err := auth.CheckMerchant(ctx, m, "credit line of merchant "+m); err != nil {
		return err
	}
	limit, err := PageLimit(c)
	if err != nil {
		return err
	}
	cur, err := rawCursor(c)
	if err != nil {
		return err
	}
	items, next, err := s.cfg.Loans.CreditLineHistory(ctx, m, limit, cur)
	if err != nil {
		return err
	}
	if items == nil {
		items = []loans.CreditLineChange{}
	}
	return WriteJSON(c, http.StatusOK, creditLineHistoryPage{Items: items, NextCursor: nextCursor(next)})
}
