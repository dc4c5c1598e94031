//! The device side: NodeMCU device agent and fleet simulator.
