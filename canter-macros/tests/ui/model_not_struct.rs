// A model is a struct.
use canter_macros::Model;

#[derive(Model)]
enum Colour {
    Red,
    Green,
}

fn main() {}
