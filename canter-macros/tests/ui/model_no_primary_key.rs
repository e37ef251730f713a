// A model without `id` names its primary key.
use canter_macros::Model;

#[derive(Model)]
struct Country {
    code: String,
    name: String,
}

fn main() {}
