package api

import "testing"

// The in-flight set answers a look and a claim in one step: a slot that
// completed is reported done (with its merchant's digest) and never claimed;
// a fresh slot is claimed; a claimed slot is neither (the 409); a failed
// command frees its slot without being remembered, so its retry is claimed
// again as a new command.
func TestClaimUnlessCompleted(t *testing.T) {
	f := &inFlightSet{m: map[string]struct{}{}}
	step := func(slot string, wantDone, wantClaimed bool, wantMerchant digest) {
		t.Helper()
		m, done, claimed := f.claimUnlessCompleted(slot)
		if done != wantDone || claimed != wantClaimed || m != wantMerchant {
			t.Fatalf("%q: done %v claimed %v merchant %x, want %v %v %x", slot, done, claimed, m, wantDone, wantClaimed, wantMerchant)
		}
	}
	step("o\x00k1", false, true, digest{})
	step("o\x00k1", false, false, digest{}) // executing: 409
	f.release("o\x00k1", true, "m_A")
	step("o\x00k1", true, false, digestOf("m_A"))
	step("o\x00k1", true, false, digestOf("m_A")) // every retry is a replay
	step("o\x00k2", false, true, digest{})
	f.release("o\x00k2", false, "m_A")
	step("o\x00k2", false, true, digest{})
	if len(f.m) != 1 {
		t.Fatalf("in flight %v, want only o/k2", f.m)
	}
	if digestOf("m_A") == digestOf("m_B") || digestOf("") != (digest{}) {
		t.Fatal("digests of distinct merchants must differ; the empty merchant's is zero")
	}
}
