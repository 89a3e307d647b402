"""Teachers: policies (observation to plan), engines (plan to data) and the agents they make."""
