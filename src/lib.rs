//! doable: a self-hosted task manager in one binary.
//!
//! `main.rs` reads the configuration and calls [`run`]; tests drive
//! [`build_app`] directly.

pub mod account;
pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod digest;
pub mod domain;
pub mod error;
pub mod in_progress;
pub mod listener;
pub mod mail;
pub mod web;

pub use app::{AppState, StartError, build_app, run, set_user_active};
pub use config::Config;
