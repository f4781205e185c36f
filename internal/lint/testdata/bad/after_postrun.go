package bad

import "github.com/msgrsim/msgrsim/models"

// AfterRun may check models: *_postrun.go files run after the simulation stopped.
func AfterRun() models.Report { return models.CheckFIFO(nil, models.CheckOptions{}) }
