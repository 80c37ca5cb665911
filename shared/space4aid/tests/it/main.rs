//! SPACE4AI-D's integration tests, in one binary: the public instances and the reference's
//! solutions, the search methods, the exact method, trained predictors, and pacsltk.

mod pacsltk;
mod space4aid_exact;
mod space4aid_predictors;
mod space4aid_reference;
mod space4aid_search;
mod system_instances;
