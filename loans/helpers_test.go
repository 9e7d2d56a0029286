package loans

import "github.com/lendhq/lend"

func fieldOf(err error) string { return lend.ErrorField(err) }
