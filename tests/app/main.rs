//! The integration suite: one binary, every test against a real server.
//! Tests marked with `on_both_backends!` run on SQLite and on PostgreSQL.

mod common;

mod abuse;
mod account;
mod api;
mod auth;
mod binary;
mod csrf;
mod labels;
mod limits;
mod lists;
mod order;
mod pages;
mod postgres;
mod priority;
mod readme;
mod sessions;
mod signup;
mod subtasks;
mod tasks;
mod views;
