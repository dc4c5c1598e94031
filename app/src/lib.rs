//! The Provisio application: the egui front end and the command-line interface.

pub mod cli;
pub mod data_dir;
pub mod deploy;
pub mod gui;
pub mod library;
pub mod validation;
