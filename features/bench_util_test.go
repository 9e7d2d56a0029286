package features

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

func parseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func replaceOnce(s, old, new string) string { return strings.Replace(s, old, new, 1) }

func utf8Valid(s string) bool { return utf8.ValidString(s) }
