"""Where an issuing authority can be: the four municipalities and the prefecture-level cities of
each province (the vehicle administrations that stamp licenses), to repair a stamp's place read
with a character lost or misread (省青岛市, 河北省武汉市, 广东省圳市).

The city decides the province (a city name is unique across the country), and a plate's province
character names the province that registered the vehicle: a place that disagrees with it is less
likely. Places outside this list (autonomous prefectures, counties) are left as read.
"""

from __future__ import annotations

from functools import lru_cache

MUNICIPALITIES = ("北京", "上海", "天津", "重庆")
# province as printed in full: its prefecture-level cities (each printed with 市)
CITIES: dict[str, str] = {
    "河北省": "石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水",
    "山西省": "太原 大同 阳泉 长治 晋城 朔州 晋中 运城 忻州 临汾 吕梁",
    "内蒙古自治区": "呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布",
    "辽宁省": "沈阳 大连 鞍山 抚顺 本溪 丹东 锦州 营口 阜新 辽阳 盘锦 铁岭 朝阳 葫芦岛",
    "吉林省": "长春 吉林 四平 辽源 通化 白山 松原 白城",
    "黑龙江省": "哈尔滨 齐齐哈尔 鸡西 鹤岗 双鸭山 大庆 伊春 佳木斯 七台河 牡丹江 黑河 绥化",
    "江苏省": "南京 无锡 徐州 常州 苏州 南通 连云港 淮安 盐城 扬州 镇江 泰州 宿迁",
    "浙江省": "杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水",
    "安徽省": "合肥 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 黄山 滁州 阜阳 宿州 六安 亳州 池州 宣城",
    "福建省": "福州 厦门 莆田 三明 泉州 漳州 南平 龙岩 宁德",
    "江西省": "南昌 景德镇 萍乡 九江 新余 鹰潭 赣州 吉安 宜春 抚州 上饶",
    "山东省": "济南 青岛 淄博 枣庄 东营 烟台 潍坊 济宁 泰安 威海 日照 临沂 德州 聊城 滨州 菏泽",
    "河南省": "郑州 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳 商丘 信阳 周口 驻马店",
    "湖北省": "武汉 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州",
    "湖南省": "长沙 株洲 湘潭 衡阳 邵阳 岳阳 常德 张家界 益阳 郴州 永州 怀化 娄底",
    "广东省": "广州 韶关 深圳 珠海 汕头 佛山 江门 湛江 茂名 肇庆 惠州 梅州 汕尾 河源 阳江 清远 东莞 中山 "
    "潮州 揭阳 云浮",
    "广西壮族自治区": "南宁 柳州 桂林 梧州 北海 防城港 钦州 贵港 玉林 百色 贺州 河池 来宾 崇左",
    "海南省": "海口 三亚 三沙 儋州",
    "四川省": "成都 自贡 攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安 达州 雅安 巴中 资阳",
    "贵州省": "贵阳 六盘水 遵义 安顺 毕节 铜仁",
    "云南省": "昆明 曲靖 玉溪 保山 昭通 丽江 普洱 临沧",
    "西藏自治区": "拉萨 日喀则 昌都 林芝 山南 那曲",
    "陕西省": "西安 铜川 宝鸡 咸阳 渭南 延安 汉中 榆林 安康 商洛",
    "甘肃省": "兰州 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南",
    "青海省": "西宁 海东",
    "宁夏回族自治区": "银川 石嘴山 吴忠 固原 中卫",
    "新疆维吾尔自治区": "乌鲁木齐 克拉玛依 吐鲁番 哈密",
}
# provinces and municipalities as an address or a stamp names them
PROVINCE_NAMES: tuple[str, ...] = (*(f"{name}市" for name in MUNICIPALITIES), *CITIES)
LEAD_MISSING = 0.5  # a place's first characters lost (the stamp's edge): cheaper than a misread
LEAD_EXTRA = 0.75  # a stray mark read before the place (the stamp's border)
PLATE_DISAGREES = 1.0  # the plate names another province
UNKNOWN_PLACE = 3.0  # the cost of a place that is in no list (a county, a misread beyond repair)


@lru_cache(maxsize=1)
def places() -> tuple[tuple[str, str, str], ...]:
    """(place as a stamp prints it, its province's short name, its city) for every place."""
    found = [(f"{name}市", name, name) for name in MUNICIPALITIES]
    for province, cities in CITIES.items():
        short = province.removesuffix("省").removesuffix("自治区")
        short = {"广西壮族": "广西", "宁夏回族": "宁夏", "新疆维吾尔": "新疆"}.get(short, short)
        found.extend((f"{province}{city}市", short, city) for city in cities.split())
    return tuple(found)


def in_order(read: str, name: str) -> bool:
    """The read's characters all appear in the name, in order (the rest lost, none misread)."""
    remaining = iter(name)
    return all(character in remaining for character in read)


def place_of_address(address: str) -> str | None:
    """The municipality, or province and prefecture-level city, an address starts with."""
    return next((place for place, _, _ in places() if address.startswith(place)), None)


def city_of_address(address: str) -> str | None:
    """That place's city (天津, 宁波), as a company registered there is named."""
    return next((city for place, _, city in places() if address.startswith(place)), None)


@lru_cache(maxsize=65536)
def place_distance(read: str, place: str) -> float:
    """Edit distance from what was read to a place; leading characters lost or added cost less."""
    previous = [LEAD_MISSING * k for k in range(len(place) + 1)]
    for i, x in enumerate(read, 1):
        current = [LEAD_EXTRA * i]
        for j, y in enumerate(place, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@lru_cache(maxsize=4096)
def nearest_place(read: str, plate_province: str | None = None) -> tuple[str, float]:
    """The place nearest to what was read and its cost (UNKNOWN_PLACE when none is near enough
    or two are equally near: the place is then left as read)."""
    scored: list[tuple[float, str]] = []
    letters = set(read) - set("市省区")
    for place, province, city in places():
        if not letters & set(place):
            continue
        cost = place_distance(read, place)
        if len(city) >= 2 and city in read:
            # the city read in full names its province (more read than the place costs)
            cost = min(cost, 1.0 + 0.5 * max(0, len(read) - len(place)))
        if plate_province and province != plate_province:
            cost += PLATE_DISAGREES
        scored.append((cost, place))
    scored.sort()
    # the plate's province agreeing lets a place be further off
    most = 2.5 if plate_province and scored and scored[0][1].startswith(plate_province) else 2.0
    if not scored or scored[0][0] > most:
        return read, UNKNOWN_PLACE
    if len(scored) > 1 and scored[1][0] - scored[0][0] < 0.5:
        return read, UNKNOWN_PLACE
    return scored[0][1], scored[0][0]


# Vehicle types as GA 802 names them (the ones a license prints): a read one character away from
# exactly one of them is that one.
VEHICLE_TYPES: frozenset[str] = frozenset(
    f"{size}{kind}"
    for sizes, kinds in (
        ("大型中型", "普通客车 双层客车 卧铺客车 铰接客车 越野客车 轿车 专用客车 专用校车"),
        ("小型", "普通客车 越野客车 轿车 专用客车 专用校车 面包车"),
        ("微型", "普通客车 越野客车 轿车 面包车"),
        (
            "重型中型轻型微型",
            "普通货车 厢式货车 封闭货车 罐式货车 平板货车 集装厢车 自卸货车 特殊结构货车 仓栅式货车 "
            "车辆运输车 厢式自卸货车 罐式自卸货车",
        ),
        ("重型中型轻型", "半挂牵引车 全挂牵引车"),
        ("大型重型中型轻型微型", "专项作业车"),
        (
            "重型中型轻型",
            "普通半挂车 厢式半挂车 罐式半挂车 平板半挂车 集装箱半挂车 自卸半挂车 特殊结构半挂车 "
            "仓栅式半挂车 旅居半挂车 专项作业半挂车 低平板半挂车 车辆运输半挂车 普通全挂车 厢式全挂车 "
            "罐式全挂车 平板全挂车 自卸全挂车 仓栅式全挂车 旅居全挂车 专项作业全挂车",
        ),
        ("", "普通低速货车 厢式低速货车 罐式低速货车 自卸低速货车 仓栅式低速货车 三轮汽车 无轨电车 有轨电车"),
    )
    for size in [sizes[i : i + 2] for i in range(0, len(sizes), 2)] or [""]
    for kind in kinds.split()
)


# Brands as licenses print them before the model code (品牌型号: 丰田牌TV7250): the makes sold in
# China, to restore a brand that lost a character to the label it was printed over (放牌 for
# 解放牌) or had one misread (咨利牌). A brand in no list is left as read.
_BRAND_NAMES = (
    "大众汽车 丰田 本田 日产 别克 雪佛兰 凯迪拉克 福特 比亚迪 吉利 长安 长城 哈弗 奇瑞 东风 解放 福田 江淮 "
    "江铃 五菱 宝骏 荣威 名爵 传祺 红旗 奥迪 宝马 奔驰 马自达 北京现代 起亚 斯柯达 标致 雪铁龙 沃尔沃 "
    "路虎 捷豹 雷克萨斯 英菲尼迪 讴歌 三菱 铃木 斯巴鲁 特斯拉 蔚来 理想 小鹏 零跑 哪吒 极氪 领克 岚图 "
    "问界 金杯 海马 众泰 北汽 东南 启辰 风神 风行 欧尚 陕汽 豪沃 欧曼 乘龙 柳汽 上汽大通 依维柯 宇通 "
    "金龙 海格 中通 安凯 凯马 时代 奥铃 江西五十铃 庆铃 红岩 华菱 徐工 三一 中联 一汽"
)
BRANDS: frozenset[str] = frozenset(f"{name}牌" for name in _BRAND_NAMES.split())


def known_brand(read: str) -> str | None:
    """The one brand the Chinese part of a model reads as: one that ends the read (a stray
    character before it), the read being the end of one brand (its first characters lost) or the
    brand without 牌, or one character away from the read. None when none or several fit."""
    if read in BRANDS:
        return read
    candidates = [
        {brand for brand in BRANDS if read.endswith(brand) and len(read) == len(brand) + 1},
        {brand for brand in BRANDS if len(read) >= 2 and brand.endswith(read)},
        {brand for brand in BRANDS if brand == f"{read}牌"},
    ]
    for found in candidates:
        if len(found) == 1:
            return found.pop()
        if found:
            return None
    from vehicle_license_recognizer.extraction import edit_distance_at_most_one

    near = [brand for brand in BRANDS if len(read) >= 3 and edit_distance_at_most_one(read, brand)]
    return near[0] if len(near) == 1 else None


# Surnames (百家姓 as borne today, the commonest few hundred): a personal name starting with none
# of them is more likely misread (酒 for 潘, 候 for 侯) than rare, and asks for a look.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚"
    "卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康"
    "施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗"
    "谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜"
    "冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠"
    "荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄"
    "平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇"
    "公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
# Characters common in given names (those of most people born since the 1950s draw on a few
# hundred): one read outside them, where the model's runner-up there is one of them, is more
# likely misread (器 for 磊, 垂 for 雯) than rare.
GIVEN_NAME_CHARACTERS = frozenset(
    "伟强磊军洋勇杰涛明超刚平辉鹏建国志林宇浩博文斌波鑫亮飞宁峰俊帅凯龙东海华健成晨阳兵新锋彬毅旭鸣楠坤亚晖翔"
    "宏光利江永昊然轩睿哲诚泽锐鹤青松柏岩山川武威雄豪骏驰腾跃力德仁义礼智信忠孝荣富贵福禄寿喜庆祥瑞安康泰顺"
    "昌盛兴旺发达金银宝玉春夏秋冬雪霜雨云风雷星月日天方正中立生长广远大小一子家世先启少元振宗祖延学思敏慧聪"
    "颖秀英芳丽艳娟娜静霞燕萍红梅兰菊莲荷桂珍珠琴玲琳琪璐瑶婷婧倩雯雅欣怡悦佳佩蓉晶晓洁莉萌梦蕾薇妍妮姗婉嫣"
    "媛娇娥凤丹彤桐菲蕊露馨茜琦淑惠娣姣翠花香叶清澜涵汐沁溪潇滢瀚源淼泉河湖森树杨柳桃杏樱竹梓楷彦昕晟昱暄曦"
    "晴朗昭煜炜烨焱熙灿辰宸寰航舟帆逸迪通进遥弘彪虎豹鹰麟鸿雁莺锦绣纯紫素彩艺诗书瑾璇瑜璟琛珂珊玥玮珏琨瑄茂"
    "蔚芝芸芬苗茹莹萱蓓蓝嘉善美俏伦佑佐侠俭伶伊依仪可心忆念恩慈爱情意愉恒恺悠舒尧舜禹京寒高敬贤良友谊和睿军"
    "红卫东方革胜利亮捷凯旋军民德才兆斗北南西乾坤宪法治政泓淳润洪涌波浪澄洁净皓皎皓晗晞暖霖露霏雯霄韵音乐"
    "歌舞琳瑛琼瑗璋璞瑗莎娅婕婵姝娴婕媚嫦娉婷妙姿媛蝶蓬芃苒若茗荟莘菡萦葳蓁蔓蕙蕴薰藜兰萍芹芷苓英茵荃莎"
    "晋鲲鹍鹄鹭鹂鸾麒骁骐骥驹骋驿骊恬恺怿恕悌惟慎懿成功业宏伟大志向前进展望远航嘉宾宜室家庭容融荣耀辉煌"
    "柱梁栋材杉桦楠樟槐榕桑枫梧桐森淼焱鑫磊晶"
)
# An owner that is an organisation ends with what it is (有限公司, 厂, 合作社, …).
ORGANISATION_ENDS = (
    "公司",
    "厂",
    "局",
    "院",
    "校",
    "中心",
    "店",
    "部",
    "所",
    "队",
    "会",
    "社",
    "行",
    "馆",
    "站",
    "场",
    "处",
)
