//! A RabbitMQ virtual host of the test's own on `CANTER_TEST_AMQP_URL`'s server, made and
//! deleted with `rabbitmqctl` (the machine's RabbitMQ, as root: what CI runs as). Its queues,
//! exchanges and messages go with it.

use std::process::Command;

/// A virtual host of the test's own, deleted with everything in it when dropped (see the
/// module docs).
pub struct AmqpVhost {
    /// The server's URL with this virtual host.
    pub url: String,
    /// The virtual host's name (`<tag>-<random>`).
    pub name: String,
}

fn rabbitmqctl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map_err(|e| format!("rabbitmqctl {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

impl AmqpVhost {
    /// `None` (the test skips, printing why) when `CANTER_TEST_AMQP_URL` is unset; a panic
    /// then under `CANTER_REQUIRE_SERVICES=1`, and whenever `rabbitmqctl` fails.
    pub fn create(tag: &str) -> Option<AmqpVhost> {
        let server = canter_core::test::require_service("CANTER_TEST_AMQP_URL")?;
        let name = format!("{tag}-{}", uuid::Uuid::new_v4().simple());
        rabbitmqctl(&["add_vhost", &name]).expect("a vhost of the test's own");
        let user = server
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map(|(credentials, _)| credentials.split(':').next().unwrap_or("guest"))
            .unwrap_or("guest");
        rabbitmqctl(&["set_permissions", "-p", &name, user, ".*", ".*", ".*"])
            .expect("the test's user may use its vhost");
        let base = server.split('?').next().unwrap_or(&server);
        let base = match base.rsplit_once('/') {
            Some((authority, _)) if authority.contains("://") && !authority.ends_with('/') => {
                authority
            }
            _ => base.trim_end_matches('/'),
        };
        Some(AmqpVhost {
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for AmqpVhost {
    fn drop(&mut self) {
        if let Err(e) = rabbitmqctl(&["delete_vhost", &self.name]) {
            eprintln!("the test's vhost stays: {e}");
        }
    }
}
