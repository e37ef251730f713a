// A view's handlers are `async fn`s.
struct Hello;

#[canter_macros::view(crate = nothing_real)]
impl Hello {
    fn post(&self) {}
}

fn main() {}
