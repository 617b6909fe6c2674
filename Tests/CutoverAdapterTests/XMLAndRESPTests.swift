import CutoverAWS
import CutoverRedis
import Testing

@Suite struct XMLNodeTests {
    @Test func readsAWSAnswers() throws {
        let doc = """
            <?xml version="1.0" encoding="UTF-8"?>
            <DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
              <DescribeAutoScalingGroupsResult><AutoScalingGroups><member>
                <AutoScalingGroupName>recsys-dr-gpu</AutoScalingGroupName><DesiredCapacity>4</DesiredCapacity>
                <Instances><member><LifecycleState>InService</LifecycleState></member><member><LifecycleState>Pending</LifecycleState></member></Instances>
                <Tags/><!-- a comment --><Note>a &lt; b &amp;&amp; c &#x263A; &#65;<![CDATA[<raw>]]></Note>
              </member></AutoScalingGroups></DescribeAutoScalingGroupsResult>
            </DescribeAutoScalingGroupsResponse>
            """
        let root = try XMLTree.parse(Array(doc.utf8))
        #expect(root.name == "DescribeAutoScalingGroupsResponse")
        let group = try #require(root.path("DescribeAutoScalingGroupsResult", "AutoScalingGroups", "member"))
        #expect(group["DesiredCapacity"]?.text == "4")
        #expect(group["Instances"]?.all("member").compactMap { $0["LifecycleState"]?.text } == ["InService", "Pending"])
        #expect(group["Note"]?.text == "a < b && c ☺ A<raw>")
        #expect(root.find("AutoScalingGroupName")?.text == "recsys-dr-gpu")
        #expect(group["Tags"]?.children.isEmpty == true)
    }

    @Test(arguments: ["", "not xml", "<a><b></a>", "<a>", "<a></a><b/>", "<!DOCTYPE x [<!ENTITY e \"boom\">]><a>&e;</a>", "<a>&bogus;</a>"])
    func refusesWhatIsNotXML(_ text: String) {
        #expect(throws: XMLError.self) { try XMLTree.parse(Array(text.utf8)) }
    }
}
