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

    fn lagging_total(&self) -> u64 {
        self.registry.lagging_total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::ChannelClosed;
    use std::time::Duration;

    fn group(name: &str) -> GroupName {
        GroupName::room(&app::names::RoomName::parse(name).unwrap())
    }

    fn payload(s: &str) -> Payload {
        Payload::event(s.to_owned())
    }

    /// Nothing arrives within a short wait.
    async fn assert_silent(channel: &mut Channel) {
        let got = tokio::time::timeout(Duration::from_millis(50), channel.receive()).await;
        assert!(got.is_err(), "expected nothing, got {got:?}");
    }

    #[tokio::test]
    async fn group_send_reaches_members_of_that_group_only() {
        let layer = MemoryLayer::new(8);
        let mut a1 = layer.new_channel().await.unwrap();
        let mut a2 = layer.new_channel().await.unwrap();
        let mut b = layer.new_channel().await.unwrap();
        layer.group_add(&group("a"), a1.name()).await.unwrap();
        layer.group_add(&group("a"), a2.name()).await.unwrap();
        layer.group_add(&group("b"), b.name()).await.unwrap();

        let delivery = layer
            .group_send(&group("a"), payload("hi a"))
            .await
            .unwrap();
        assert_eq!(
            delivery,
            Delivery {
                delivered: 2,
                lagging: vec![]
            }
        );
        assert_eq!(a1.receive().await.unwrap(), "hi a");
        assert_eq!(a2.receive().await.unwrap(), "hi a");
        assert_silent(&mut b).await;
    }

    #[tokio::test]
    async fn unicode_group_names_work() {
        let layer = MemoryLayer::new(8);
        let mut c = layer.new_channel().await.unwrap();
        layer.group_add(&group("聊天室"), c.name()).await.unwrap();
        layer
            .group_send(&group("聊天室"), payload("你好"))
            .await
            .unwrap();
        assert_eq!(c.receive().await.unwrap(), "你好");
    }

    #[tokio::test]
    async fn discard_removes_from_the_group_only() {
        let layer = MemoryLayer::new(8);
        let mut c = layer.new_channel().await.unwrap();
        layer.group_add(&group("a"), c.name()).await.unwrap();
        layer.group_add(&group("b"), c.name()).await.unwrap();
        layer.group_discard(&group("a"), c.name()).await.unwrap();

        let delivery = layer
            .group_send(&group("a"), payload("to a"))
            .await
            .unwrap();
        assert_eq!(delivery.delivered, 0);
        assert_silent(&mut c).await;
        layer
            .group_send(&group("b"), payload("to b"))
            .await
            .unwrap();
        assert_eq!(c.receive().await.unwrap(), "to b");
    }

    #[tokio::test]
    async fn send_addresses_one_channel() {
        let layer = MemoryLayer::new(8);
        let mut one = layer.new_channel().await.unwrap();
        let mut other = layer.new_channel().await.unwrap();
        let delivery = layer.send(one.name(), payload("just you")).await.unwrap();
        assert_eq!(delivery.delivered, 1);
        assert_eq!(one.receive().await.unwrap(), "just you");
        assert_silent(&mut other).await;
    }

    #[tokio::test]
    async fn a_full_member_is_reported_dropped_and_told() {
        let layer = MemoryLayer::new(2);
        let mut slow = layer.new_channel().await.unwrap();
        let mut quick = layer.new_channel().await.unwrap();
        layer.group_add(&group("a"), slow.name()).await.unwrap();
        layer.group_add(&group("a"), quick.name()).await.unwrap();

        for i in 0..2 {
            let d = layer
                .group_send(&group("a"), payload(&i.to_string()))
                .await
                .unwrap();
            assert_eq!(d.delivered, 2);
            assert_eq!(quick.receive().await.unwrap(), i.to_string().as_str());
        }
        // `slow` has read nothing: its queue of 2 is full.
        let d = layer.group_send(&group("a"), payload("2")).await.unwrap();
        assert_eq!(d.delivered, 1);
        assert_eq!(d.lagging, vec![slow.name().clone()]);
        assert_eq!(layer.lagging_total(), 1);
        assert_eq!(quick.receive().await.unwrap(), "2");
        // The slow consumer is told at once, not after draining its queue.
        assert_eq!(slow.receive().await, Err(ChannelClosed::Lagging));

        // It is out of the group: later sends neither count nor report it.
        let d = layer.group_send(&group("a"), payload("3")).await.unwrap();
        assert_eq!(
            d,
            Delivery {
                delivered: 1,
                lagging: vec![]
            }
        );
    }

    #[tokio::test]
    async fn closed_channels_leave_their_groups() {
        let layer = MemoryLayer::new(8);
        let gone = layer.new_channel().await.unwrap();
        layer.group_add(&group("a"), gone.name()).await.unwrap();
        layer.close_channel(gone.name()).await;
        let d = layer.group_send(&group("a"), payload("x")).await.unwrap();
        assert_eq!(d.delivered, 0);
        assert!(layer.group_add(&group("a"), gone.name()).await.is_err());
    }

    #[tokio::test]
    async fn a_dropped_receiver_is_pruned_not_counted_as_lagging() {
        let layer = MemoryLayer::new(8);
        let gone = layer.new_channel().await.unwrap();
        layer.group_add(&group("a"), gone.name()).await.unwrap();
        drop(gone);
        let d = layer.group_send(&group("a"), payload("x")).await.unwrap();
        assert_eq!(d, Delivery::default());
        assert_eq!(layer.lagging_total(), 0);
    }
}
