//! Clients of the services the controller talks to: its own admin service (`admin`), the
//! Infrastructure Manager (`im`), OSCAR clusters' REST API (`oscar`) and the OSCAR clusters an
//! auth.dat names (`oscar_clusters`); and the credentials file they read (`auth`: auth.dat).

pub mod admin;
pub mod auth;
pub mod im;
pub mod oscar;
pub mod oscar_clusters;
