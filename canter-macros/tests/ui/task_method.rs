// A task is a free function: a method's receiver cannot be sent to a worker.
struct Mailer;

impl Mailer {
    #[canter_macros::task]
    async fn send(&self, to: String) {}
}

fn main() {}
