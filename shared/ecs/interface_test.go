package ecs_test

import (
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// The client is what the core's CloudAssistant interface is written for.
var _ stopper.CloudAssistant = (*ecs.Client)(nil)
