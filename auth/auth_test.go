package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
)

func TestNewKey(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		role     auth.Role
		merchant string
		field    string // "" = ok
	}{
		{"merchant", auth.RoleMerchant, "m_1", ""},
		{"officer", auth.RoleOfficer, "", ""},
		{"service", auth.RoleService, "", ""},
		{"merchant without id", auth.RoleMerchant, "  ", "merchant"},
		{"officer with merchant", auth.RoleOfficer, "m_1", "merchant"},
		{"unknown role", auth.Role("admin"), "", "role"},
		{"merchant id too long", auth.RoleMerchant, strings.Repeat("m", auth.MaxMerchantIDLen+1), "merchant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, secret, err := auth.NewKey(tc.role, tc.merchant, now)
			if tc.field != "" {
				if lend.ErrorCode(err) != lend.EINVALID || lend.ErrorField(err) != tc.field {
					t.Fatalf("err = %v, want invalid %s", err, tc.field)
				}
				return
			}
			// 32 random bytes in unpadded base64url are ceil(32*8/6) = 43 characters.
			if err != nil || !strings.HasPrefix(secret, "lend_") || len(secret) != 5+43 || !strings.HasPrefix(k.ID, "key_") || len(k.ID) != 4+16 {
				t.Fatalf("key %+v secret len %d err %v", k, len(secret), err)
			}
			if k.Role != tc.role || k.MerchantID != tc.merchant || !k.CreatedAt.Equal(now) {
				t.Fatalf("key = %+v", k)
			}
		})
	}
	_, a, _ := auth.NewKey(auth.RoleOfficer, "", now)
	_, b, _ := auth.NewKey(auth.RoleOfficer, "", now)
	if a == b {
		t.Fatal("two keys are equal")
	}
}

func TestMerchantScope(t *testing.T) {
	bg := context.Background()
	merchant := auth.NewContext(bg, auth.Principal{KeyID: "key_1", Role: auth.RoleMerchant, MerchantID: "m_A"})
	officer := auth.NewContext(bg, auth.Principal{KeyID: "key_2", Role: auth.RoleOfficer})
	service := auth.NewContext(bg, auth.Principal{KeyID: "key_3", Role: auth.RoleService})
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		wantID    string
		wantAll   bool
		seesA     bool
		seesB     bool
		wantOwner string
	}{
		{"merchant", merchant, "m_A", false, true, false, "merchant:m_A"},
		{"officer", officer, "", true, true, true, "key:key_2"},
		{"service", service, "", true, true, true, "key:key_3"},
		{"no principal", bg, "", false, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, all := auth.MerchantScope(tc.ctx)
			if id != tc.wantID || all != tc.wantAll {
				t.Fatalf("scope = %q %v", id, all)
			}
			if auth.CanSee(tc.ctx, "m_A") != tc.seesA || auth.CanSee(tc.ctx, "m_B") != tc.seesB {
				t.Fatalf("CanSee wrong")
			}
			err := auth.CheckMerchant(tc.ctx, "m_B", "loan ln_9")
			if tc.seesB != (err == nil) || (err != nil && (lend.ErrorCode(err) != lend.ENOTFOUND || err.Error() != "loan ln_9 not found")) {
				t.Fatalf("CheckMerchant(m_B) = %v", err)
			}
			if p, ok := auth.FromContext(tc.ctx); ok && p.Owner() != tc.wantOwner {
				t.Fatalf("owner = %q", p.Owner())
			}
		})
	}
	if !auth.HasRole(officer, auth.RoleMerchant, auth.RoleOfficer) || auth.HasRole(merchant, auth.RoleOfficer) || auth.HasRole(bg, auth.RoleOfficer) {
		t.Fatal("HasRole wrong")
	}
}

func TestHashRequestSeparatesParts(t *testing.T) {
	// Moving bytes between path and body must change the hash.
	a := auth.HashRequest("POST", "/v1/a", []byte("b"))
	b := auth.HashRequest("POST", "/v1/ab", nil)
	c := auth.HashRequest("POST", "/v1/a", []byte("b"))
	if a == b || a != c {
		t.Fatal("HashRequest does not separate path and body")
	}
}

func FuzzParseRole(f *testing.F) {
	for _, s := range []string{"merchant", "officer", "service", "", "Officer", "admin\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := auth.ParseRole(s)
		if err == nil && string(r) != s {
			t.Fatalf("ParseRole(%q) = %q", s, r)
		}
		if err != nil && lend.ErrorField(err) != "role" {
			t.Fatalf("error does not name the field: %v", err)
		}
	})
}
