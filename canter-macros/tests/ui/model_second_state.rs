// One `ModelState` field at most. The macro matches the type's last segment, so a stand-in
// type does here what `canter::orm::ModelState` does.
use canter_macros::Model;

#[derive(Default)]
struct ModelState;

#[derive(Model)]
struct Product {
    id: i64,
    state: ModelState,
    saved: ModelState,
}

fn main() {}
