package storetest

import (
	"bytes"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	register("IdempotencyByRequestHash", testIdempotencyByRequestHash)
}

// testIdempotencyByRequestHash: with Cmd.RequestHash the store recognises a
// retry by the client's request fingerprint, not by the command it led to
// (what the API relies on to replay a decision after the line changed): the
// same key and fingerprint replay the first result even with another
// command; another fingerprint, or none, under the key is EUNPROCESSABLE; an
// oversized fingerprint is refused naming the field.
func testIdempotencyByRequestHash(t *testing.T, open Opener) {
	s := openAt(t, open, "2011-09-20")
	line(t, s, "m1", 100_000, "0.24")
	h1, h2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	first, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d1", RequestHash: h1}, loans.DrawRequest{AmountMinor: 10_000, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d1", RequestHash: h1}, loans.DrawRequest{AmountMinor: 20_000, Currency: "EUR"})
	if err != nil || again.ID != first.ID || again.PrincipalMinor != 10_000 {
		t.Fatalf("retry with the same fingerprint: %+v, %v; want loan %d of 100.00 replayed", again, err, first.ID)
	}
	if cl, _ := s.CreditLine(ctx, "m1"); cl.DrawnMinor != 10_000 {
		t.Fatalf("drawn %d after a replay, want 10000 (one draw)", cl.DrawnMinor)
	}
	_, err = s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d1", RequestHash: h2}, loans.DrawRequest{AmountMinor: 10_000, Currency: "EUR"})
	wantCode(t, err, lend.EUNPROCESSABLE)
	_, err = s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d1"}, loans.DrawRequest{AmountMinor: 10_000, Currency: "EUR"})
	wantCode(t, err, lend.EUNPROCESSABLE)
	_, err = s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d2", RequestHash: make([]byte, loans.MaxRequestHashLen+1)}, loans.DrawRequest{AmountMinor: 10_000, Currency: "EUR"})
	wantCode(t, err, lend.EINVALID)
	if lend.ErrorField(err) != "request_hash" {
		t.Fatalf("oversized fingerprint: field %q, want request_hash", lend.ErrorField(err))
	}
	mustReconcile(t, s)
}
