// A model has one primary key (no composite keys).
use canter_macros::Model;

#[derive(Model)]
struct Country {
    #[field(primary_key)]
    code: String,
    #[field(primary_key)]
    name: String,
}

fn main() {}
