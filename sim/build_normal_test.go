//go:build !canary_norequeue && !canary_nodiscard && !canary_lossyack && !canary_overack && !canary_noforget && !canary_dupregister && !canary_throttleleak && !canary_doublerelease

package sim

// canaryName is the deliberately broken protocol core this test binary was built with ("" for
// the real one).
const canaryName = ""
