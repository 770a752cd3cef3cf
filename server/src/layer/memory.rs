//! The in-memory channel layer: the default, for one server process.

use super::{
    Channel, ChannelLayer, ChannelName, Delivery, GroupName, LayerError, Payload,
    registry::Registry,
};
use async_trait::async_trait;

pub struct MemoryLayer {
    registry: Registry,
}

impl MemoryLayer {
    /// `capacity` bounds each channel's queue.
    pub fn new(capacity: usize) -> Self {
        Self {
            registry: Registry::new("memory", capacity),
        }
    }
}

#[async_trait]
impl ChannelLayer for MemoryLayer {
    async fn new_channel(&self) -> Result<Channel, LayerError> {
        Ok(self.registry.new_channel())
    }

    async fn send(&self, to: &ChannelName, payload: Payload) -> Result<Delivery, LayerError> {
        Ok(self.registry.send(to, payload))
    }

    async fn group_add(&self, group: &GroupName, channel: &ChannelName) -> Result<(), LayerError> {
        if self.registry.group_add(group, channel) {
            Ok(())
        } else {
            Err(LayerError(format!("no channel named {channel}")))
        }
    }

    async fn group_discard(
        &self,
        group: &GroupName,
        channel: &ChannelName,
    ) -> Result<(), LayerError> {
        self.registry.group_discard(group, channel);
        Ok(())
    }

    async fn group_send(
        &self,
        group: &GroupName,
        payload: Payload,
    ) -> Result<Delivery, LayerError> {
        Ok(self.registry.group_send(group, payload))
    }

    async fn close_channel(&self, channel: &ChannelName) {
        self.registry.close_channel(channel);
    }

    fn degraded(&self) -> Option<String> {
        None
    }

    fn lagging_total(&self) -> u64 {
        self.registry.lagging_total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What only an in-process layer can report: delivery counts per member.
    #[tokio::test]
    async fn delivery_reports_count_members_and_name_the_lagging() {
        let layer = MemoryLayer::new(1);
        let group = GroupName::new("user.x");
        let slow = layer.new_channel().await.unwrap();
        let mut quick = layer.new_channel().await.unwrap();
        layer.group_add(&group, slow.name()).await.unwrap();
        layer.group_add(&group, quick.name()).await.unwrap();
        let d = layer.group_send(&group, Payload::event("1")).await.unwrap();
        assert_eq!(
            d,
            Delivery {
                delivered: 2,
                lagging: vec![]
            }
        );
        quick.receive().await.unwrap();
        let d = layer.group_send(&group, Payload::event("2")).await.unwrap();
        assert_eq!(
            d,
            Delivery {
                delivered: 1,
                lagging: vec![slow.name().clone()]
            }
        );
        quick.receive().await.unwrap();
        let d = layer.group_send(&group, Payload::event("3")).await.unwrap();
        assert_eq!(
            d,
            Delivery {
                delivered: 1,
                lagging: vec![]
            },
            "reported once, then gone"
        );
    }
}
