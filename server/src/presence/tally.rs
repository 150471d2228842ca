//! How many connections a user has open, and how many of them are in use:
//! counted per node, summed over the cluster. Plain data, no I/O.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub connections: u32,
    /// Connections whose client has not reported the person idle.
    pub active: u32,
}

/// What happened to one connection of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A connection opened (connections start active).
    Opened,
    /// A connection closed; `active` is whether it was active then.
    Closed { active: bool },
    /// An open connection's client said the person is (in)active.
    Activity { active: bool },
}

impl Tally {
    pub fn connected(self) -> bool {
        self.connections > 0
    }

    pub fn in_use(self) -> bool {
        self.active > 0
    }

    /// Whether others could tell the two apart (see `wire::model::Presence::shown`).
    pub fn shows_differently(self, other: Tally) -> bool {
        self.connected() != other.connected() || self.in_use() != other.in_use()
    }

    pub fn apply(self, change: Change) -> Tally {
        let step = |n: u32, up: bool| if up { n + 1 } else { n.saturating_sub(1) };
        match change {
            Change::Opened => Tally { connections: self.connections + 1, active: self.active + 1 },
            Change::Closed { active } => Tally {
                connections: self.connections.saturating_sub(1),
                active: if active { self.active.saturating_sub(1) } else { self.active },
            },
            Change::Activity { active } => Tally { active: step(self.active, active), ..self },
        }
    }

    pub fn sum(tallies: impl IntoIterator<Item = Tally>) -> Tally {
        tallies.into_iter().fold(Tally::default(), |a, b| Tally {
            connections: a.connections + b.connections,
            active: a.active + b.active,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_connections_and_activity() {
        let t = Tally::default().apply(Change::Opened).apply(Change::Opened);
        assert_eq!(t, Tally { connections: 2, active: 2 });
        let t = t.apply(Change::Activity { active: false });
        assert_eq!(t, Tally { connections: 2, active: 1 });
        assert!(!t.shows_differently(Tally { connections: 1, active: 1 }));
        let t = t.apply(Change::Closed { active: true });
        assert_eq!(t, Tally { connections: 1, active: 0 });
        assert!(t.shows_differently(Tally { connections: 1, active: 1 }));
        assert_eq!(t.apply(Change::Closed { active: false }), Tally::default());
        assert_eq!(Tally::default().apply(Change::Closed { active: true }), Tally::default());
    }

    #[test]
    fn sums_nodes() {
        let a = Tally { connections: 2, active: 0 };
        let b = Tally { connections: 1, active: 1 };
        assert_eq!(Tally::sum([a, b]), Tally { connections: 3, active: 1 });
    }
}
