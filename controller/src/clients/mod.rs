//! Clients of the services outside the mesh the controller talks to: the Infrastructure
//! Manager (`im`), OSCAR clusters' REST API (`oscar`) and the OSCAR clusters an auth.dat names
//! (`oscar_clusters`); and the credentials file they read (`auth`: auth.dat). The client of the
//! controller's own admin service is `mesh::admin`.

pub mod auth;
pub mod im;
pub mod oscar;
pub mod oscar_clusters;
