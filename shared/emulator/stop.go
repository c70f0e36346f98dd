package emulator

import (
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// stop is StopInvocation. In both stop modes the instances that had not
// started never will (Pending becomes Cancelled; on a periodic or reboot
// invocation Scheduled becomes Stopped) and a periodic invocation gets no
// further run (it is no longer active). They differ on the run in progress:
//   - StopModeDocumented, as the API page says: it continues (Running stays
//     Running);
//   - StopModeKill, as the agent does: it is killed, Stopping at once (with
//     StopTime) and Terminated KillDelay later (with FinishTime), evaluated
//     lazily by record.settle.
//
// Instances that already ended, and in kill mode those already Stopping, are
// left as they are: stopping them again succeeds and changes nothing, so a
// retried stop is harmless.
func (s *Server) stop(c *call) (any, *apiError) {
	p := c.params
	regionID, invokeID := p.Get("RegionId"), p.Get("InvokeId")
	if regionID == "" {
		return nil, missingParameter("RegionId")
	}
	if invokeID == "" {
		return nil, missingParameter("InvokeId")
	}
	ids, e := repeatList(p, "InstanceId")
	if e != nil {
		return nil, e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.known[regionID] {
		return nil, regionNotFound()
	}
	if len(ids) > maxInstances {
		return nil, tooManyInstances(len(ids))
	}
	r := s.lookup(c.account, regionID, invokeID)
	if r == nil {
		return nil, invokeNotFound()
	}
	now := s.now()
	r.settle(now)
	instances := r.inv.InvokeInstances.InvokeInstance
	targets := make([]int, 0, len(instances))
	if len(ids) == 0 {
		for i := range instances {
			targets = append(targets, i)
		}
	}
	for _, id := range ids {
		i := indexOfInstance(instances, id)
		if i < 0 {
			return nil, instanceNotFound(id)
		}
		targets = append(targets, i)
	}

	stamp := now.UTC().Format(timeLayout)
	periodic := r.periodic()
	for _, i := range targets {
		in := &instances[i]
		switch in.InvocationStatus {
		case ca.StatusPending:
			in.InvocationStatus = ca.StatusCancelled
			in.StopTime, in.UpdateTime = stamp, stamp
		case ca.StatusScheduled:
			in.InvocationStatus = ca.StatusCancelled
			if periodic {
				in.InvocationStatus = ca.StatusStopped
			}
			in.StopTime, in.UpdateTime = stamp, stamp
		case ca.StatusRunning:
			if s.kill {
				r.kill(i, now, now.Add(s.killDelay))
				break
			}
			// The run in progress continues; a periodic one gets no further
			// run, which is a change worth an UpdateTime.
			if periodic && !r.halted[i] {
				in.UpdateTime = stamp
			}
		case ca.StatusStopping:
			// Already being stopped: in kill mode nothing changes; in the
			// documented mode a periodic one still loses its further runs.
			if !s.kill && periodic && !r.halted[i] {
				in.UpdateTime = stamp
			}
		}
		if periodic {
			r.halted[i] = true
		}
	}
	r.stopCalls++
	return ca.StopInvocationResponse{RequestId: c.requestID}, nil
}

func indexOfInstance(instances []ca.InvokeInstance, id string) int {
	for i := range instances {
		if instances[i].InstanceId == id {
			return i
		}
	}
	return -1
}
